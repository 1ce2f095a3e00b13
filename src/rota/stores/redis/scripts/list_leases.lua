-- list_leases: ARGV = P, now. The leases held at now, from the set of every lease name
-- (N:leases, kept by acquire_lease). Returns {name, owner, token, acquired, expires}... in
-- any order.
local now = num(ARGV[2])
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', P .. ':leases')) do
  local l = redis.call('HMGET', P .. ':lease:' .. name, 'o', 'tk', 'a', 'e')
  if l[1] and l[4] and num(l[4]) > now then
    out[#out + 1] = {name, l[1], l[2], l[3], l[4]}
  end
end
return out
