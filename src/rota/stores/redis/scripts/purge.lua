-- purge: ARGV = P, finished_before, limit, skip, statuses (comma-separated), page. Deletes finished
-- jobs whose status is listed, their attempts, their index entries and their dedupe keys,
-- looking at one page of the finished index from position `skip` (the entries before it
-- were looked at by an earlier call and kept). Returns {deleted, kept, looked at}.
local wanted = {}
for s in string.gmatch(ARGV[5], '[^,]+') do wanted[s] = true end
local ids = redis.call('ZRANGEBYSCORE', P .. ':fin', '-inf', '(' .. ARGV[2], 'LIMIT', num(ARGV[4]), num(ARGV[6]))
local limit, deleted, kept = num(ARGV[3]), 0, 0
for _, id in ipairs(ids) do
  if deleted >= limit then break end
  local jk = jkey(id)
  local h = redis.call('HMGET', jk, 's', 'q', 'k')
  if h[1] and not wanted[h[1]] then
    kept = kept + 1
  else
    if h[3] and redis.call('HGET', P .. ':keys', h[3]) == id then
      redis.call('HDEL', P .. ':keys', h[3])
    end
    if h[1] then count(h[1], h[2], -1) end
    redis.call('DEL', jk, akey(id))
    ox_rem(P .. ':ids', true, nil, id)
    redis.call('ZREM', P .. ':fin', id)
    deleted = deleted + 1
  end
end
flush_counts()
return {deleted, kept, #ids}
