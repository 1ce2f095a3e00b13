-- renew_lease: ARGV = P, name, owner, token, now, expires. Returns acquired_at or nil.
local lk = P .. ':lease:' .. ARGV[2]
local h = redis.call('HMGET', lk, 'o', 'tk', 'e', 'a')
if h[1] ~= ARGV[3] or h[2] ~= ARGV[4] or num(h[3]) <= num(ARGV[5]) then return false end
redis.call('HSET', lk, 'e', ARGV[6])
return h[4]
