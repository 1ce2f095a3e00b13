-- acquire_lease: ARGV = P, name, owner, now, expires. Takes the lease when free or expired;
-- the token counter is kept forever so tokens never go back. Returns the token or nil.
local lk = P .. ':lease:' .. ARGV[2]
local h = redis.call('HMGET', lk, 'o', 'e')
if h[1] and num(h[2]) > num(ARGV[4]) then return false end
local tk = redis.call('HINCRBY', lk, 'tk', 1)
redis.call('HSET', lk, 'o', ARGV[3], 'a', ARGV[4], 'e', ARGV[5])
redis.call('SADD', P .. ':leases', ARGV[2])  -- every name ever leased (list_leases)
return tk
