-- purge: ARGV = P, finished_before, limit. Deletes finished jobs, their attempts, their index
-- entries and their dedupe keys. Returns how many.
local ids = redis.call('ZRANGEBYSCORE', P .. ':fin', '-inf', '(' .. ARGV[2], 'LIMIT', 0, num(ARGV[3]))
for _, id in ipairs(ids) do
  local jk = jkey(id)
  local h = redis.call('HMGET', jk, 's', 'q', 'k')
  if h[3] and redis.call('HGET', P .. ':keys', h[3]) == id then
    redis.call('HDEL', P .. ':keys', h[3])
  end
  if h[1] then count(h[1], h[2], -1) end
  redis.call('DEL', jk, akey(id))
  redis.call('ZREM', P .. ':all', id)
  redis.call('ZREM', P .. ':fin', id)
end
flush_counts()
return #ids
