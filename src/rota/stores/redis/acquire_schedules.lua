-- acquire_schedules: ARGV = P, now, lease_until, owner, limit, scan_max.
-- Leases due schedules (not paused, next fire <= now, no unexpired lease) by next fire.
-- Returns {id, fields}...
local now, until_, owner, limit = ARGV[2], ARGV[3], ARGV[4], num(ARGV[5])
local ids = redis.call('ZRANGEBYSCORE', P .. ':sdue', '-inf', now, 'LIMIT', 0, num(ARGV[6]))
local cands = {}
for _, sid in ipairs(ids) do
  cands[#cands + 1] = {num(redis.call('HGET', P .. ':sch:' .. sid, 'nf')), sid}
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
  redis.call('HINCRBY', sk, 'v', 1)
  sched_index(sid)
  out[k] = {sid, redis.call('HGETALL', sk)}
end
return out
