-- acquire_schedules: ARGV = P, now, lease_until, owner, limit, scan_max, fence name ('' none),
-- fence owner, fence token.
-- Leases due schedules (not paused, next fire <= now, no unexpired lease) by next fire. With
-- a fence: nothing unless its lease is held; a lease taken under an older term of the same
-- lease is free at once. Returns {id, fields}...
local now, until_, owner, limit = ARGV[2], ARGV[3], ARGV[4], num(ARGV[5])
local fname, fowner, ftoken = ARGV[7], ARGV[8], ARGV[9]
if not fence_ok(fname, fowner, ftoken, now) then return {} end
local ids = redis.call('ZRANGEBYSCORE', P .. ':sdue', '-inf', now, 'LIMIT', 0, num(ARGV[6]))
local cands, seen = {}, {}
for _, sid in ipairs(ids) do
  seen[sid] = true
  cands[#cands + 1] = {num(redis.call('HGET', P .. ':sch:' .. sid, 'nf')), sid}
end
if fname ~= '' then
  -- leased under an ended term: its pass can never commit, so it need not be waited for
  local old = redis.call('ZRANGEBYSCORE', P .. ':sfence', '-inf', '(' .. ftoken, 'LIMIT', 0, num(ARGV[6]))
  for _, sid in ipairs(old) do
    local h = redis.call('HMGET', P .. ':sch:' .. sid, 'nf', 'pa', 'ln')
    if not seen[sid] and h[1] and h[2] ~= '1' and h[3] == fname and num(h[1]) <= num(now) then
      cands[#cands + 1] = {num(h[1]), sid}
    end
  end
end
table.sort(cands, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
local out = {}
for k = 1, math.min(limit, #cands) do
  local sid = cands[k][2]
  local sk = P .. ':sch:' .. sid
  redis.call('HSET', sk, 'lo', owner, 'le', until_)
  if fname ~= '' then
    redis.call('HSET', sk, 'ln', fname, 'lt', ftoken)
  else
    redis.call('HDEL', sk, 'ln', 'lt')
  end
  redis.call('HINCRBY', sk, 'v', 1)
  sched_index(sid)
  out[k] = {sid, redis.call('HGETALL', sk)}
end
return out
