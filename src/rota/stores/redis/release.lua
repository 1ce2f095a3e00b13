-- release: ARGV = P, n, then n pairs (id, token). Running jobs with that token go back to
-- pending (due time unchanged) without spending the attempt. Returns how many.
local n, released = num(ARGV[2]), 0
for k = 1, n do
  local id, token = ARGV[1 + 2 * k], ARGV[2 + 2 * k]
  local jk = jkey(id)
  local h = redis.call('HMGET', jk, 's', 'tk', 'q', 'd')
  if h[1] == 'running' and h[2] == token then
    redis.call('HSET', jk, 's', 'pending')
    redis.call('HDEL', jk, 'lo', 'le')
    redis.call('HINCRBY', jk, 'a', -1)
    redis.call('ZREM', P .. ':run:' .. h[3], id)
    redis.call('ZADD', P .. ':d:' .. h[3], h[4], id)
    count('running', h[3], -1)
    count('pending', h[3], 1)
    released = released + 1
  end
end
flush_counts()
if released > 0 then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
return released
