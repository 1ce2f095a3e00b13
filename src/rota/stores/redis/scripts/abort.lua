-- abort: ARGV = P, now, id, error type, error message, last_error. Returns {'ok', fields},
-- {'missing'} or {'ended', fields} (already succeeded, failed or cancelled: left as it was).
local now, id = ARGV[2], ARGV[3]
local jk = jkey(id)
local h = redis.call('HMGET', jk, 's', 'q', 'd', 'tk', 'lo', 'st', 'ck', 'dp')
if not h[1] then return {'missing'} end
local status, q = h[1], h[2]
if status == 'succeeded' or status == 'failed' or status == 'cancelled' then
  return {'ended', redis.call('HGETALL', jk)}
end
unindex(id, status, q, h[3], h[7])
if status == 'running' then attempt(id, h[4], h[5], h[6], now, 'aborted', {ARGV[4], ARGV[5], false}) end
finalize(id, q, status, 'cancelled', now)
redis.call('HSET', jk, 'e', ARGV[6])
-- its dependants are settled as for any cancelled parent
local released = int_or(h[8], 0) > 0 and settle_dependants(id, 'cancelled', nil, now)
flush_counts()
-- a slot of its concurrency key is free, or a dependant that runs after failure is released
if (status == 'running' and h[7]) or released then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
-- it ended: its worker (when running) stops it at once, waiters of its result wake
redis.call('PUBLISH', P .. ':wake:end', id)
return {'ok', redis.call('HGETALL', jk)}
