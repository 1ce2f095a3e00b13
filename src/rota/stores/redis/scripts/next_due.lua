-- next_due: ARGV = P, nq, queues. Earliest due time of a pending job (or lease expiry of a
-- running one) in the queues, in ms; nil when none. A job with limits (in ld or lr) counts
-- from when its limits may let it run (limited_next_due in rota/stores/_gate.py): a full
-- concurrency key from its first lease expiry, an empty bucket from its next token. Up to
-- SCAN of them per set are weighed; past that, the earliest due time of the rest counts
-- (never too late).
local best = nil
local function consider(v)
  v = num(v)
  if v and (best == nil or v < best) then best = v end
end
for k = 1, num(ARGV[2]) do
  local q = ARGV[2 + k]
  consider(ox_head(P .. ':due:' .. q, 1)[2])
  consider(redis.call('ZRANGE', P .. ':run:' .. q, 0, 0, 'WITHSCORES')[2])
  -- the ready set is ordered by priority first: the earliest due of each priority band
  local rkey = P .. ':r:' .. q
  local r = redis.call('ZRANGE', rkey, 0, 0, 'WITHSCORES')
  while r[1] do
    consider(string.sub(r[1], 1, 15))
    r = redis.call('ZRANGEBYSCORE', rkey, '(' .. r[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
end
local SCAN = 1000
local function whole(v)
  v = tonumber(v)
  if v == nil or v ~= v or v < 1 or v > 1e9 or v ~= math.floor(v) then return nil end
  return v
end
local seen = {}
-- when the limits of the job ``id`` (due at ``due``, ms) may let it run
local function limited(id, due)
  local h = redis.call('HMGET', jkey(id), 'ck', 'cl', 'rk', 'rl', 'rp')
  local group = table.concat({h[1] or '', h[2] or '', h[3] or '', h[4] or '', h[5] or ''}, '\0')
  local when = seen[group]
  if when ~= nil then
    return when and math.max(when, due)
  end
  when = due
  local climit = whole(h[2])
  if h[1] and climit then
    local ck = P .. ':cc:' .. h[1]
    if redis.call('ZCARD', ck) >= climit then
      local first = redis.call('ZRANGE', ck, 0, 0, 'WITHSCORES')[2]
      when = first and math.max(due, num(first)) or false
    end
  end
  local rate, period = whole(h[4]), tonumber(h[5])
  if when and h[3] and rate and period and period > 0 and period < 1e9 then
    local tat = tonumber(redis.call('GET', P .. ':rt:' .. h[3]) or '')
    if tat then
      local t = math.max(1, math.floor(math.floor(period * 1e6 + 0.5) / rate))
      local opens = math.floor((tat - (rate - 1) * t) / 1000)
      if opens > when then when = opens end
    end
  end
  seen[group] = when
  return when
end
for k = 1, num(ARGV[2]) do
  local q = ARGV[2 + k]
  -- not yet seen due, in due order: none later can be earlier than the best so far
  local d = ox_head(P .. ':ldue:' .. q, SCAN)
  for j = 1, #d, 2 do
    local due = num(d[j + 1])
    if best ~= nil and due >= best then break end
    local when = limited(d[j], due)
    if when then consider(when) end
  end
  if #d == 2 * SCAN then consider(d[#d]) end
  -- seen due by a claim (held back, or not claimed yet), in claim order
  local lkey = P .. ':lr:' .. q
  local r = redis.call('ZRANGE', lkey, 0, SCAN - 1)
  for _, m in ipairs(r) do
    local due = num(string.sub(m, 1, 15))
    -- (no job is runnable before its due time: one due after the best so far cannot win)
    if due and (best == nil or due < best) then
      local when = limited(string.sub(m, 16), due)
      if when then consider(when) end
    end
  end
  if #r == SCAN then
    -- more than were weighed: the earliest due of each priority band (a lower bound)
    local b = redis.call('ZRANGE', lkey, 0, 0, 'WITHSCORES')
    while b[1] do
      consider(string.sub(b[1], 1, 15))
      b = redis.call('ZRANGEBYSCORE', lkey, '(' .. b[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
    end
  end
end
if best == nil then return false end
return best
