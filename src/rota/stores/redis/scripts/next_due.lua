-- next_due: ARGV = P, nq, queues. Earliest due time of a pending job (or lease expiry of a
-- running one) in the queues, in ms; nil when none.
local best = nil
local function consider(v)
  v = num(v)
  if v and (best == nil or v < best) then best = v end
end
for k = 1, num(ARGV[2]) do
  local q = ARGV[2 + k]
  consider(redis.call('ZRANGE', P .. ':d:' .. q, 0, 0, 'WITHSCORES')[2])
  consider(redis.call('ZRANGE', P .. ':run:' .. q, 0, 0, 'WITHSCORES')[2])
  -- the ready set is ordered by priority first: the earliest due of each priority band
  local rkey = P .. ':r:' .. q
  local r = redis.call('ZRANGE', rkey, 0, 0, 'WITHSCORES')
  while r[1] do
    consider(string.sub(r[1], 1, 15))
    r = redis.call('ZRANGEBYSCORE', rkey, '(' .. r[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
end
if best == nil then return false end
return best
