-- finish: ARGV = P, now, worker, n, then per result 15 values:
--   id, token, outcome, status, retry_at ('' none), error JSON ('' none), last_error ('' none),
--   has_result ('1'/'0'), result, fence name ('' none), fence owner, fence token,
--   progress ('' none: the stored progress stays), has_message ('1'/'0'), message.
-- Per result: applied only while the job runs with that token (and the fence holds).
local ended = false
local now, worker, n = ARGV[2], ARGV[3], num(ARGV[4])
local out, run_rem, fin_add, cc_rem = {}, {}, {}, {}
local freed = false
for k = 1, n do
  local b = 4 + (k - 1) * 15
  local id, token, outcome, status = ARGV[b + 1], ARGV[b + 2], ARGV[b + 3], ARGV[b + 4]
  local retry, err, lasterr = ARGV[b + 5], ARGV[b + 6], ARGV[b + 7]
  local jk = jkey(id)
  local h = redis.call('HMGET', jk, 's', 'tk', 'q', 'st', 'sc', 'ck', 'rk', 'dp')
  if h[1] == 'running' and h[2] == token and fence_ok(ARGV[b + 10], ARGV[b + 11], ARGV[b + 12], now) then
    local q = h[3]
    if h[6] then
      push(cc_rem, P .. ':cc:' .. h[6], id)
      freed = true
    end
    local e = nil
    if err ~= '' then e = cjson.decode(err) end
    attempt(id, token, worker, h[4], now, outcome, e)
    push(run_rem, P .. ':run:' .. q, id)
    local set, del = {'s', status}, {'lo', 'le'}
    if lasterr ~= '' then
      set[#set + 1] = 'e'
      set[#set + 1] = lasterr
    else
      del[#del + 1] = 'e'
    end
    if ARGV[b + 8] == '1' then
      set[#set + 1] = 'r'
      set[#set + 1] = ARGV[b + 9]
    else
      del[#del + 1] = 'r'
    end
    if ARGV[b + 13] ~= '' then
      set[#set + 1] = 'pg'
      set[#set + 1] = ARGV[b + 13]
      set[#set + 1] = 'pa'
      set[#set + 1] = now
      if ARGV[b + 14] == '1' then
        set[#set + 1] = 'pm'
        set[#set + 1] = ARGV[b + 15]
      else
        del[#del + 1] = 'pm'
      end
    end
    count('running', q, -1)
    count(status, q, 1)
    if status ~= 'pending' then ended = true end
    if status == 'pending' then
      set[#set + 1] = 'd'
      set[#set + 1] = retry
      delay(q, h[6] or h[7], int_or(retry, 0), id)
    else
      set[#set + 1] = 'f'
      set[#set + 1] = now
      push(fin_add, P .. ':fin', now, id)
      if status == 'failed' and h[5] then
        local sk = P .. ':sch:' .. h[5]
        if redis.call('EXISTS', sk) == 1 then
          redis.call('HINCRBY', sk, 'fc', 1)
          if lasterr ~= '' then redis.call('HSET', sk, 'e', lasterr) end
        end
      end
    end
    redis.call('HSET', jk, unpack(set))
    redis.call('HDEL', jk, unpack(del))
    if status ~= 'pending' and int_or(h[8], 0) > 0 then
      local res = nil
      if ARGV[b + 8] == '1' then res = ARGV[b + 9] end
      freed = settle_dependants(id, status, res, now) or freed
    end
    out[k] = 1
  else
    out[k] = 0
  end
end
flush(run_rem, 'ZREM')
flush(cc_rem, 'ZREM')
flush(fin_add, 'ZADD')
flush_counts()
-- a job with a concurrency key left a slot free, or a dependant was released
if freed then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
-- jobs ended: waiters of their results re-check (which ones is not said: one message a call)
if ended then redis.call('PUBLISH', P .. ':wake:end', '') end
return out
