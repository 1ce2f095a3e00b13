-- list_workers: ARGV = P, now. Deletes the entries expired at now, then returns the live
-- ones as {id, fields}... (in no particular order).
local now, idx = ARGV[2], P .. ':workers'
local expired = redis.call('ZRANGEBYSCORE', idx, '-inf', now)
for _, id in ipairs(expired) do redis.call('DEL', P .. ':w:' .. id) end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', idx, '-inf', now) end
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', idx, '(' .. now, '+inf')) do
  out[#out + 1] = {id, redis.call('HGETALL', P .. ':w:' .. id)}
end
return out
