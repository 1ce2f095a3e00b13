-- finish: ARGV = P, now, worker, n, then per result 12 values:
--   id, token, outcome, status, retry_at ('' none), error JSON ('' none), last_error ('' none),
--   has_result ('1'/'0'), result, fence name ('' none), fence owner, fence token.
-- Per result: applied only while the job runs with that token (and the fence holds).
local now, worker, n = ARGV[2], ARGV[3], num(ARGV[4])
local out = {}
for k = 1, n do
  local b = 4 + (k - 1) * 12
  local id, token, outcome, status = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local retry, err, lasterr = ARGV[b + 5], ARGV[b + 6], ARGV[b + 7]
  local jk = jkey(id)
  local h = redis.call('HMGET', jk, 's', 'tk', 'q', 'st', 'sc')
  if h[1] == 'running' and h[2] == token and fence_ok(ARGV[b + 10], ARGV[b + 11], ARGV[b + 12], now) then
    local q = h[3]
    local e = nil
    if err ~= '' then e = cjson.decode(err) end
    attempt(id, token, worker, h[4], now, outcome, e)
    redis.call('ZREM', P .. ':run:' .. q, id)
    if lasterr ~= '' then redis.call('HSET', jk, 'e', lasterr) else redis.call('HDEL', jk, 'e') end
    if ARGV[b + 8] == '1' then redis.call('HSET', jk, 'r', ARGV[b + 9]) else redis.call('HDEL', jk, 'r') end
    if status == 'pending' then
      redis.call('HSET', jk, 's', 'pending', 'd', retry)
      redis.call('HDEL', jk, 'lo', 'le')
      redis.call('ZADD', P .. ':d:' .. q, retry, id)
      count('running', q, -1)
      count('pending', q, 1)
    else
      finalize(id, q, 'running', status, now)
      if status == 'failed' and h[5] then
        local sk = P .. ':sch:' .. h[5]
        if redis.call('EXISTS', sk) == 1 then
          redis.call('HINCRBY', sk, 'fc', 1)
          if lasterr ~= '' then redis.call('HSET', sk, 'e', lasterr) end
        end
      end
    end
    out[k] = 1
  else
    out[k] = 0
  end
end
flush_counts()
return out
