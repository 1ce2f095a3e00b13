-- cancel: ARGV = P, now, id. Returns {'ok', fields}, {'missing'} or {'state', status}.
local now, id = ARGV[2], ARGV[3]
local jk = jkey(id)
local h = redis.call('HMGET', jk, 's', 'q', 'd', 'tk', 'lo', 'st', 'ck')
if not h[1] then return {'missing'} end
local status, q = h[1], h[2]
if status ~= 'pending' and status ~= 'running' then return {'state', status} end
unindex(id, status, q, h[3], h[7])
if status == 'running' then attempt(id, h[4], h[5], h[6], now, 'cancelled') end
finalize(id, q, status, 'cancelled', now)
flush_counts()
-- a slot of its concurrency key is free
if status == 'running' and h[7] then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
return {'ok', redis.call('HGETALL', jk)}
