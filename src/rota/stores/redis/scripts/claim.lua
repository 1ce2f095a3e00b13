-- claim: ARGV = P, now, lease_until, worker, limit, promote_max, nq, queues...
-- Promotes due delayed jobs into each queue's ready set, then takes runnable jobs (ready, or
-- running with an expired lease) by priority desc, due asc, id asc. Returns {id, fields}...
local now, until_, worker = ARGV[2], ARGV[3], ARGV[4]
local limit, promote_max, nq = num(ARGV[5]), num(ARGV[6]), num(ARGV[7])
local queues = {}
for k = 1, nq do queues[k] = ARGV[7 + k] end

for _, q in ipairs(queues) do
  local dkey = P .. ':d:' .. q
  local due = redis.call('ZRANGEBYSCORE', dkey, '-inf', now, 'LIMIT', 0, promote_max)
  if #due > 0 then
    local adds = {}
    for _, id in ipairs(due) do
      local h = redis.call('HMGET', jkey(id), 'pr', 'd')
      adds[#adds + 1] = -int_or(h[1], 0)
      adds[#adds + 1] = rmember(h[2], id)
    end
    batch('ZADD', P .. ':r:' .. q, adds)
    -- the fetched ids are exactly the lowest-ranked ones
    redis.call('ZREMRANGEBYRANK', dkey, 0, #due - 1)
  end
end

local out, claimed, rounds = {}, 0, 0
while claimed < limit and rounds <= limit do
  rounds = rounds + 1
  local want, cands = limit - claimed, {}
  for _, q in ipairs(queues) do
    local r = redis.call('ZRANGE', P .. ':r:' .. q, 0, want - 1, 'WITHSCORES')
    for j = 1, #r, 2 do
      local m = r[j]
      cands[#cands + 1] = {-num(r[j + 1]), num(string.sub(m, 1, 15)), string.sub(m, 16), q, m}
    end
    -- the running set is ordered by expiry, not priority: every expired lease competes
    local x = redis.call('ZRANGEBYSCORE', P .. ':run:' .. q, '-inf', now, 'LIMIT', 0, promote_max)
    for _, id in ipairs(x) do
      local h = redis.call('HMGET', jkey(id), 'pr', 'd')
      cands[#cands + 1] = {int_or(h[1], 0), int_or(h[2], 0), id, q, false}
    end
  end
  if #cands == 0 then break end
  table.sort(cands, function(a, b)
    if a[1] ~= b[1] then return a[1] > b[1] end
    if a[2] ~= b[2] then return a[2] < b[2] end
    return a[3] < b[3]
  end)
  local ready_rem, run_add = {}, {}
  for _, c in ipairs(cands) do
    if claimed >= limit then break end
    local id, q, jk = c[3], c[4], jkey(c[3])
    local h = redis.call('HMGET', jk, 'tk', 'a', 'lo', 'st', 'm')
    local take = true
    if c[5] then
      push(ready_rem, P .. ':r:' .. q, c[5])
      count('pending', q, -1)
    else
      -- reclaim: the previous holder vanished; its attempt is recorded as lost first
      attempt(id, h[1], h[3], h[4], now, 'lease_lost')
      if int_or(h[2], 0) >= int_or(h[5], 1) then
        redis.call('ZREM', P .. ':run:' .. q, id)
        finalize(id, q, 'running', 'failed', now)
        redis.call('HSET', jk, 'e', 'LeaseLost: the worker stopped heartbeating')
        take = false
      else
        count('running', q, -1)
      end
    end
    if take then
      redis.call('HSET', jk, 's', 'running', 'lo', worker, 'le', until_, 'st', now,
        'tk', int_or(h[1], 0) + 1, 'a', int_or(h[2], 0) + 1)
      -- the new attempt has reported nothing yet
      redis.call('HDEL', jk, 'pg', 'pm', 'pa')
      push(run_add, P .. ':run:' .. q, until_, id)
      count('running', q, 1)
      claimed = claimed + 1
      out[claimed] = {id, redis.call('HGETALL', jk)}
    end
  end
  flush(ready_rem, 'ZREM')
  flush(run_add, 'ZADD')
end
flush_counts()
return out
