-- release_lease: ARGV = P, name, owner, token, now. Ends a held lease, keeping its token.
local lk = P .. ':lease:' .. ARGV[2]
local h = redis.call('HMGET', lk, 'o', 'tk', 'e')
if h[1] ~= ARGV[3] or h[2] ~= ARGV[4] or num(h[3]) <= num(ARGV[5]) then return 0 end
redis.call('HDEL', lk, 'o', 'a', 'e')
return 1
