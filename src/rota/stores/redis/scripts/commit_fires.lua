-- commit_fires: ARGV = P, now, id, version, owner, next_fire ('' none), last_fire ('' none),
-- fence name ('' none), fence owner, fence token, n, then n jobs as read_job reads them.
-- Conditional on the version, the owner and the fence. Returns {applied 1/0, created}.
local now, sid, version, owner = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local nf, lf = ARGV[6], ARGV[7]
local sk = P .. ':sch:' .. sid
local h = redis.call('HMGET', sk, 'v', 'lo')
if not h[1] or h[1] ~= version or h[2] ~= owner or not fence_ok(ARGV[8], ARGV[9], ARGV[10], now) then
  return {0, 0}
end
local n, i, created, last = num(ARGV[11]), 12, 0, nil
for _ = 1, n do
  local id, q, due, key, fields
  i, id, q, due, key, fields = read_job(i)
  local got, new = add_job(id, q, due, key, fields)
  last = got
  if new then created = created + 1 end
end
if nf ~= '' then redis.call('HSET', sk, 'nf', nf) else redis.call('HDEL', sk, 'nf') end
if lf ~= '' then redis.call('HSET', sk, 'lf', lf) else redis.call('HDEL', sk, 'lf') end
redis.call('HINCRBY', sk, 'rc', created)
if last then redis.call('HSET', sk, 'lj', last) end
sched_unlease(sk)
redis.call('HINCRBY', sk, 'v', 1)
sched_index(sid)
flush_counts()
if created > 0 then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
return {1, created}
