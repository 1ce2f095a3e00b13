-- claim: ARGV = P, now, lease_until, worker, limit, promote_max, now_us, held_scan, nq, queues...
-- Promotes due delayed jobs into each queue's ready set (jobs with limits, from ld into its
-- limited ready set lr), then takes runnable jobs (ready, limited ready, or running with an expired
-- lease) by priority desc, due asc, id asc. A job with limits is taken only when its limits
-- allow (see rota/stores/_gate.py): fewer than its limit of jobs with its concurrency key
-- running with an unexpired lease (the key's cc set, scored by lease expiry), and a token in
-- its rate key's bucket (rt:<key>: GCRA's tat in microseconds, expiring once the bucket is
-- full again). Held-back jobs stay where they are, untouched; up to held_scan of them are
-- passed over. Returns {id, fields}...
local now, until_, worker = ARGV[2], ARGV[3], ARGV[4]
local limit, promote_max, now_us = num(ARGV[5]), num(ARGV[6]), num(ARGV[7])
local held_scan, nq = num(ARGV[8]), num(ARGV[9])
local queues = {}
for k = 1, nq do queues[k] = ARGV[9 + k] end

for _, q in ipairs(queues) do
  for _, sets in ipairs({{':due:', ':r:'}, {':ldue:', ':lr:'}}) do
    local due = ox_pop_upto(P .. sets[1] .. q, now, promote_max)
    if #due > 0 then
      local adds = {}
      for _, id in ipairs(due) do
        local h = redis.call('HMGET', jkey(id), 'pr', 'd')
        adds[#adds + 1] = -int_or(h[1], 0)
        adds[#adds + 1] = rmember(h[2], id)
      end
      batch('ZADD', P .. sets[2] .. q, adds)
    end
  end
end

-- the gate: per concurrency key the jobs running with an unexpired lease (plus those taken
-- now), per rate key its bucket's tat (false: no bucket, a full one)
local running, tats, loaded, changed, full, empty = {}, {}, {}, {}, {}, {}
local function whole(s)
  local v = tonumber(s)
  if v == nil or v ~= v or v < 1 or v > 1e9 or v ~= math.floor(v) then return nil end
  return v
end
local function admit(ck, cl, rk, rl, rp)
  local climit, rate, period = whole(cl), whole(rl), tonumber(rp)
  if period ~= nil and (period ~= period or period <= 0 or period >= 1e9) then period = nil end
  local n
  if ck and climit then
    if full[ck .. '\0' .. cl] then return false end
    n = running[ck]
    if n == nil then n = redis.call('ZCOUNT', P .. ':cc:' .. ck, '(' .. now, '+inf') end
    running[ck] = n
    if n >= climit then
      full[ck .. '\0' .. cl] = true
      return false
    end
  end
  if rk and rate and period then
    local bucket = rk .. '\0' .. rl .. '\0' .. rp
    if empty[bucket] then return false end
    if not loaded[rk] then
      loaded[rk] = true
      tats[rk] = tonumber(redis.call('GET', P .. ':rt:' .. rk) or '') or false
    end
    local t = math.max(1, math.floor(math.floor(period * 1e6 + 0.5) / rate))
    local start = now_us
    if tats[rk] and tats[rk] > now_us then start = tats[rk] end
    if start - now_us > (rate - 1) * t then
      empty[bucket] = true
      return false
    end
    tats[rk] = start + t
    changed[rk] = true
  end
  if ck and climit then running[ck] = n + 1 end
  return true
end

-- a queue's limited ready set, read a chunk at a time in claim order
local function stream(q)
  return {key = P .. ':lr:' .. q, q = q, buf = {}, at = 1, offset = 0, done = false}
end
local function head(s, budget)
  if s.at > #s.buf then
    if s.done or budget <= 0 then return nil end
    local size = math.min(math.max(16, 2 * s.offset), budget)
    local r = redis.call('ZRANGE', s.key, s.offset, s.offset + size - 1, 'WITHSCORES')
    s.buf, s.at, s.offset = {}, 1, s.offset + #r / 2
    for j = 1, #r, 2 do
      local m = r[j]
      s.buf[#s.buf + 1] = {-num(r[j + 1]), num(string.sub(m, 1, 15)), string.sub(m, 16), s.q, m, 'l'}
    end
    if #r / 2 < size then s.done = true end
    if #s.buf == 0 then return nil end
  end
  return s.buf[s.at]
end
local function before(a, b)
  if a[1] ~= b[1] then return a[1] > b[1] end
  if a[2] ~= b[2] then return a[2] < b[2] end
  return a[3] < b[3]
end

local out, claimed, rounds, passed = {}, 0, 0, 0
while claimed < limit and rounds <= limit do
  rounds = rounds + 1
  local want, cands = limit - claimed, {}
  local full_list = false
  for _, q in ipairs(queues) do
    local r = redis.call('ZRANGE', P .. ':r:' .. q, 0, want - 1, 'WITHSCORES')
    for j = 1, #r, 2 do
      local m = r[j]
      cands[#cands + 1] = {-num(r[j + 1]), num(string.sub(m, 1, 15)), string.sub(m, 16), q, m, 'r'}
    end
    if #r / 2 == want then full_list = true end
    -- the running set is ordered by expiry, not priority: every expired lease competes
    local x = redis.call('ZRANGEBYSCORE', P .. ':run:' .. q, '-inf', now, 'LIMIT', 0, promote_max)
    if #x == promote_max then full_list = true end
    for _, id in ipairs(x) do
      local h = redis.call('HMGET', jkey(id), 'pr', 'd')
      cands[#cands + 1] = {int_or(h[1], 0), int_or(h[2], 0), id, q, false, 'x'}
    end
  end
  table.sort(cands, before)
  local streams = {}
  for k, q in ipairs(queues) do streams[k] = stream(q) end
  local ready_rem, run_add, lr_rem, lr_add, cc_add = {}, {}, {}, {}, {}
  local died, ci = 0, 1
  while claimed < limit do
    -- the next candidate in claim order: the sorted list's or a limited stream's head
    local c, from = cands[ci], nil
    for k, s in ipairs(streams) do
      local h = head(s, held_scan + want - passed)
      if h and (c == nil or before(h, c)) then c, from = h, s end
    end
    if c == nil then break end
    if from then from.at = from.at + 1 else ci = ci + 1 end
    local id, q, jk = c[3], c[4], jkey(c[3])
    local h = redis.call('HMGET', jk, 'tk', 'a', 'lo', 'st', 'm', 'ck', 'cl', 'rk', 'rl', 'rp')
    local take = true
    if c[6] == 'r' then
      push(ready_rem, P .. ':r:' .. q, c[5])
      count('pending', q, -1)
    elseif c[6] == 'l' then
      if admit(h[6], h[7], h[8], h[9], h[10]) then
        push(lr_rem, P .. ':lr:' .. q, c[5])
        count('pending', q, -1)
      else
        take = false
        passed = passed + 1
      end
    else
      -- reclaim: the previous holder vanished; its attempt is recorded as lost first
      attempt(id, h[1], h[3], h[4], now, 'lease_lost')
      redis.call('ZREM', P .. ':run:' .. q, id)
      if h[6] then redis.call('ZREM', P .. ':cc:' .. h[6], id) end
      if int_or(h[2], 0) >= int_or(h[5], 1) then
        finalize(id, q, 'running', 'failed', now)
        redis.call('HSET', jk, 'e', 'LeaseLost: the worker stopped heartbeating')
        if int_or(redis.call('HGET', jk, 'dp'), 0) > 0 and settle_dependants(id, 'failed', nil, now) then
          redis.call('PUBLISH', P .. ':wake:jobs', '1')
        end
        take = false
        died = died + 1
      elseif (h[6] or h[8]) and not admit(h[6], h[7], h[8], h[9], h[10]) then
        -- its limits hold it back: pending again (due time unchanged, so ready at once)
        redis.call('HSET', jk, 's', 'pending')
        redis.call('HDEL', jk, 'lo', 'le')
        push(lr_add, P .. ':lr:' .. q, -int_or(redis.call('HGET', jk, 'pr'), 0), rmember(c[2], id))
        count('running', q, -1)
        count('pending', q, 1)
        take = false
        died = died + 1
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
      if h[6] then push(cc_add, P .. ':cc:' .. h[6], until_, id) end
      count('running', q, 1)
      claimed = claimed + 1
      out[claimed] = {id, redis.call('HGETALL', jk)}
    end
  end
  flush(ready_rem, 'ZREM')
  flush(lr_rem, 'ZREM')
  flush(lr_add, 'ZADD')
  flush(run_add, 'ZADD')
  -- (the gate counted this claim's jobs itself: its running sets were read before these)
  flush(cc_add, 'ZADD')
  -- dead (or held-back) expired jobs left places in a full list: look again
  if died == 0 or not full_list then break end
end
for rk in pairs(changed) do
  -- the bucket is full again (the same as none) from its tat on: let Redis drop it then
  redis.call('SET', P .. ':rt:' .. rk, string.format('%d', tats[rk]),
    'PXAT', string.format('%d', math.ceil(tats[rk] / 1000) + 1))
end
flush_counts()
return out
