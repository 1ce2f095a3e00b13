-- release: ARGV = P, now, n, then n pairs (id, token). Running jobs with that token go back to
-- pending (due time unchanged) without spending the attempt; each leaves an attempt record
-- with outcome 'released'. Returns how many.
local now, n, released = ARGV[2], num(ARGV[3]), 0
for k = 1, n do
  local id, token = ARGV[2 + 2 * k], ARGV[3 + 2 * k]
  local jk = jkey(id)
  local h = redis.call('HMGET', jk, 's', 'tk', 'q', 'd', 'a', 'lo', 'st', 'ck', 'rk')
  if h[1] == 'running' and h[2] == token then
    if h[8] then redis.call('ZREM', P .. ':cc:' .. h[8], id) end
    attempt(id, token, h[6], h[7], now, 'released')
    redis.call('HSET', jk, 's', 'pending', 'a', math.max(int_or(h[5], 1) - 1, 0))
    redis.call('HDEL', jk, 'lo', 'le')
    redis.call('ZREM', P .. ':run:' .. h[3], id)
    delay(h[3], h[8] or h[9], int_or(h[4], num(now)), id)
    count('running', h[3], -1)
    count('pending', h[3], 1)
    released = released + 1
  end
end
flush_counts()
if released > 0 then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
return released
