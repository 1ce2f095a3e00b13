-- count_finished: ARGV = P, since, until (ms), bucket (ms), offset, page. Looks at one page of
-- the finished index (N:fin, by finish time) from position `offset` within [since, until) and
-- counts its jobs per bucket, queue and final status.
-- Returns {entries looked at, then bucket number, queue, status, count...}.
local since, bucket = num(ARGV[2]), num(ARGV[4])
local found = redis.call('ZRANGEBYSCORE', P .. ':fin', ARGV[2], '(' .. ARGV[3], 'WITHSCORES',
  'LIMIT', num(ARGV[5]), num(ARGV[6]))
local counts, order = {}, {}
for i = 1, #found, 2 do
  local h = redis.call('HMGET', jkey(found[i]), 's', 'q')
  if h[1] == 'succeeded' or h[1] == 'failed' or h[1] == 'cancelled' then
    local k = math.floor((num(found[i + 1]) - since) / bucket)
    local f = k .. '|' .. h[1] .. '|' .. h[2]
    if not counts[f] then
      counts[f] = {k, h[2], h[1], 0}
      order[#order + 1] = f
    end
    counts[f][4] = counts[f][4] + 1
  end
end
local out = {#found / 2}
for _, f in ipairs(order) do
  local c = counts[f]
  out[#out + 1] = c[1]
  out[#out + 1] = c[2]
  out[#out + 1] = c[3]
  out[#out + 1] = c[4]
end
return out
