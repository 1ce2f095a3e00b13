-- cancel: ARGV = P, now, id. Returns {'ok', fields}, {'missing'} or {'state', status}.
local now, id = ARGV[2], ARGV[3]
local jk = jkey(id)
local h = redis.call('HMGET', jk, 's', 'q', 'd', 'tk', 'lo', 'st', 'ck', 'dp')
if not h[1] then return {'missing'} end
local status, q = h[1], h[2]
if status ~= 'pending' and status ~= 'running' and status ~= 'waiting' then return {'state', status} end
unindex(id, status, q, h[3], h[7])
if status == 'running' then attempt(id, h[4], h[5], h[6], now, 'cancelled') end
finalize(id, q, status, 'cancelled', now)
local released = int_or(h[8], 0) > 0 and settle_dependants(id, 'cancelled', nil, now)
flush_counts()
-- a slot of its concurrency key is free, or a dependant that runs after failure is released
if (status == 'running' and h[7]) or released then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
-- it ended: its worker (when running) stops it at once, waiters of its result wake
redis.call('PUBLISH', P .. ':wake:end', id)
return {'ok', redis.call('HGETALL', jk)}
