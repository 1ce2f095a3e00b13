-- heartbeat: ARGV = P, now, lease_until, n, then n pairs (id, token).
-- Extends each lease still held at now; returns the ids of lost ones.
local now, until_, n = num(ARGV[2]), ARGV[3], num(ARGV[4])
local lost = {}
for k = 1, n do
  local id, token = ARGV[3 + 2 * k], ARGV[4 + 2 * k]
  local h = redis.call('HMGET', jkey(id), 's', 'tk', 'le', 'q', 'ck')
  if h[1] == 'running' and h[2] == token and int_or(h[3], 0) > now then
    redis.call('HSET', jkey(id), 'le', until_)
    redis.call('ZADD', P .. ':run:' .. h[4], until_, id)
    if h[5] then redis.call('ZADD', P .. ':cc:' .. h[5], until_, id) end
  else
    lost[#lost + 1] = id
  end
end
return lost
