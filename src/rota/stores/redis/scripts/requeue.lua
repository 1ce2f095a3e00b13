-- requeue: ARGV = P, now, id. A failed or cancelled job runs again: pending, due now,
-- attempts 0, history kept. Returns {'ok', fields}, {'missing'} or {'state', status}.
local now, id = ARGV[2], ARGV[3]
local jk = jkey(id)
local h = redis.call('HMGET', jk, 's', 'q', 'ck', 'rk')
if not h[1] then return {'missing'} end
local status, q = h[1], h[2]
if status ~= 'failed' and status ~= 'cancelled' then return {'state', status} end
redis.call('HSET', jk, 's', 'pending', 'd', now, 'a', 0)
redis.call('HDEL', jk, 'f', 'lo', 'le')
redis.call('ZREM', P .. ':fin', id)
delay(q, h[3] or h[4], num(now), id)
count(status, q, -1)
count('pending', q, 1)
flush_counts()
redis.call('PUBLISH', P .. ':wake:jobs', '1')
return {'ok', redis.call('HGETALL', jk)}
