-- Ordered indexes in chunks, prepended to every script before _lib.lua.
--
-- A zset of many members costs Redis ~130-150 bytes per member (skiplist node, dict entry,
-- member string); a small zset (at most zset-max-listpack-entries = 128 members of at most
-- 64 bytes, Redis's defaults) is one packed listpack, ~36-46 bytes per member. So the indexes
-- that hold every pending job (the id index, the delayed sets) are kept as chunks of at most
-- CHUNK members, each a small zset, plus the index key itself: a zset of the chunks' lower
-- bounds (all scored 0, ordered by bytes). The chunk of bound b is the key idx .. '\0' .. b
-- (names hold no NUL). Every member sorts by its sort key: the member itself in a lex
-- index (scores all 0), else its score as fixed-width digits then the member; a member
-- lives in the chunk with the greatest bound <= its sort key, and a chunk with no members
-- has no bound. A member longer than 64 bytes only makes its chunk a plain zset.
local CHUNK = 112

local function ox_sortkey(lex, score, member)
  if lex then return member end
  return string.format('%016d', score + 1e15) .. member
end

local function ox_chunk(idx, bound) return idx .. '\0' .. bound end

-- the bound of the chunk that holds (or would hold) sort key sk; nil below every bound
local function ox_find(idx, sk)
  return redis.call('ZREVRANGEBYLEX', idx, '[' .. sk, '-', 'LIMIT', 0, 1)[1]
end

-- score: an integer (a time in ms; clamped like int_or) or nil in a lex index
local function ox_add(idx, lex, score, member)
  if lex then score = 0 else score = math.floor(math.max(-1e15 + 1, math.min(score, 1e15 - 1))) end
  local sk = ox_sortkey(lex, score, member)
  local b = ox_find(idx, sk)
  if not b then
    -- below every bound: the first chunk (if any) takes it, its bound moving down
    local first = redis.call('ZRANGE', idx, 0, 0)[1]
    if first then
      if redis.call('EXISTS', ox_chunk(idx, first)) == 1 then
        redis.call('RENAME', ox_chunk(idx, first), ox_chunk(idx, sk))
      end
      redis.call('ZREM', idx, first)
    end
    redis.call('ZADD', idx, 0, sk)
    b = sk
  end
  local c = ox_chunk(idx, b)
  if redis.call('ZADD', c, score, member) == 0 then return end
  local n = redis.call('ZCARD', c)
  if n <= CHUNK then return end
  -- split: in half, except the last chunk, which keeps all but the new member when that is
  -- its greatest, else three quarters, so that members added in order (time-ordered ids,
  -- later due times) leave full chunks behind, and roughly in order nearly full ones
  local keep = math.floor(n / 2)
  if not redis.call('ZRANGEBYLEX', idx, '(' .. b, '+', 'LIMIT', 0, 1)[1] then
    keep = n - math.floor(CHUNK / 4)
    if redis.call('ZRANK', c, member) == n - 1 then keep = n - 1 end
  end
  local moved = redis.call('ZRANGE', c, keep, -1, 'WITHSCORES')
  local args = {}
  for j = 1, #moved, 2 do
    args[#args + 1] = moved[j + 1]
    args[#args + 1] = moved[j]
  end
  local nb = ox_sortkey(lex, tonumber(moved[2]), moved[1])
  redis.call('ZADD', ox_chunk(idx, nb), unpack(args))
  redis.call('ZREMRANGEBYRANK', c, keep, -1)
  redis.call('ZADD', idx, 0, nb)
end

-- Adds deferred while a script adds a batch (ox_defer), then made in sort-key order by
-- ox_flush: a batch's ids are time-ordered only to the millisecond (random below it), and
-- members added in order split the last chunk near its top, leaving full chunks behind.
local ox_deferred = nil
local function ox_defer() ox_deferred = {} end
local function ox_add_later(idx, lex, score, member)
  if not ox_deferred then return ox_add(idx, lex, score, member) end
  local l = ox_deferred[idx]
  if not l then
    l = {}
    ox_deferred[idx] = l
  end
  local s = score
  if lex then s = 0 else s = math.floor(math.max(-1e15 + 1, math.min(s, 1e15 - 1))) end
  l[#l + 1] = {ox_sortkey(lex, s, member), lex, s, member}
end
local function ox_flush()
  local todo = ox_deferred or {}
  ox_deferred = nil
  for idx, l in pairs(todo) do
    table.sort(l, function(a, b) return a[1] < b[1] end)
    for _, e in ipairs(l) do ox_add(idx, e[2], e[3], e[4]) end
  end
end

-- a chunk lost members: without any it loses its bound; a small one joins the chunk before
-- it when both fit in one (so removals in the middle do not leave many tiny chunks)
local function ox_shrunk(idx, b, c)
  local n = redis.call('ZCARD', c)
  if n == 0 then
    redis.call('ZREM', idx, b)
    return
  end
  if n > CHUNK / 4 then return end
  local prev = redis.call('ZREVRANGEBYLEX', idx, '(' .. b, '-', 'LIMIT', 0, 1)[1]
  if not prev then return end
  local pc = ox_chunk(idx, prev)
  if redis.call('ZCARD', pc) + n > CHUNK then return end
  local all = redis.call('ZRANGE', c, 0, -1, 'WITHSCORES')
  local args = {}
  for j = 1, #all, 2 do
    args[#args + 1] = all[j + 1]
    args[#args + 1] = all[j]
  end
  redis.call('ZADD', pc, unpack(args))
  redis.call('DEL', c)
  redis.call('ZREM', idx, b)
end

-- removes member (with the score it was added with; nil in a lex index); returns 1 or 0
local function ox_rem(idx, lex, score, member)
  if lex then score = 0 else score = math.floor(math.max(-1e15 + 1, math.min(score, 1e15 - 1))) end
  local b = ox_find(idx, ox_sortkey(lex, score, member))
  if not b then return 0 end
  local c = ox_chunk(idx, b)
  if redis.call('ZREM', c, member) == 0 then return 0 end
  ox_shrunk(idx, b, c)
  return 1
end

-- removes member whatever its score, looking through every chunk: for a member whose score
-- is not known (the job's stored due time is not the one it was added with, which no
-- version of rota writes); returns 1 or 0
local function ox_rem_any(idx, member)
  local bounds = redis.call('ZRANGE', idx, 0, -1)
  for _, b in ipairs(bounds) do
    local c = ox_chunk(idx, b)
    if redis.call('ZREM', c, member) == 1 then
      ox_shrunk(idx, b, c)
      return 1
    end
  end
  return 0
end

-- removes and returns the members scored <= max, lowest first, at most limit of them
local function ox_pop_upto(idx, max, limit)
  local out = {}
  while #out < limit do
    local b = redis.call('ZRANGE', idx, 0, 0)[1]
    if not b then break end
    local c = ox_chunk(idx, b)
    local got = redis.call('ZRANGEBYSCORE', c, '-inf', max, 'LIMIT', 0, limit - #out)
    if #got == 0 then break end
    for _, m in ipairs(got) do out[#out + 1] = m end
    -- the fetched members are exactly the lowest-ranked ones
    redis.call('ZREMRANGEBYRANK', c, 0, #got - 1)
    if redis.call('EXISTS', c) == 1 then break end -- the rest is scored above max
    redis.call('ZREM', idx, b)
  end
  return out
end

-- the first n members in order, as {member, score, ...}
local function ox_head(idx, n)
  local out, at = {}, 0
  while #out < 2 * n do
    local b = redis.call('ZRANGE', idx, at, at)[1]
    if not b then break end
    local got = redis.call('ZRANGE', ox_chunk(idx, b), 0, n - #out / 2 - 1, 'WITHSCORES')
    for _, v in ipairs(got) do out[#out + 1] = v end
    at = at + 1
  end
  return out
end

-- how many members of a scored index are scored above min (an integer, as every score is): only
-- the chunk holding min + 1's sort key has its scores read; every sort key in a later chunk
-- is above it (all count, ZCARD), every one in an earlier chunk below it (none count)
local function ox_count_above(idx, min)
  local first = tonumber(min) + 1
  if first > 1e15 - 1 then return 0 end -- above every score ox_add lets in
  first = math.max(first, -1e15 + 1)
  local from = ox_find(idx, ox_sortkey(false, first, ''))
  local bounds
  if from then
    bounds = redis.call('ZRANGEBYLEX', idx, '[' .. from, '+')
  else
    bounds = redis.call('ZRANGE', idx, 0, -1)
  end
  local total = 0
  for i, b in ipairs(bounds) do
    if i == 1 and from then
      total = total + redis.call('ZCOUNT', ox_chunk(idx, b), '(' .. min, '+inf')
    else
      total = total + redis.call('ZCARD', ox_chunk(idx, b))
    end
  end
  return total
end

-- a lex index's members strictly between lo and hi ('' for no bound), in order (desc:
-- highest first), at most limit of them
local function ox_lex_range(idx, lo, hi, desc, limit)
  local out = {}
  local from, to = '-', '+'
  if lo ~= '' then from = '(' .. lo end
  if hi ~= '' then to = '(' .. hi end
  local b
  if desc then
    if hi ~= '' then b = ox_find(idx, hi) else b = redis.call('ZRANGE', idx, -1, -1)[1] end
  else
    if lo ~= '' then b = ox_find(idx, lo) end
    if not b then b = redis.call('ZRANGE', idx, 0, 0)[1] end
  end
  while b and #out < limit do
    local got
    if desc then
      got = redis.call('ZREVRANGEBYLEX', ox_chunk(idx, b), to, from, 'LIMIT', 0, limit - #out)
    else
      got = redis.call('ZRANGEBYLEX', ox_chunk(idx, b), from, to, 'LIMIT', 0, limit - #out)
    end
    for _, m in ipairs(got) do out[#out + 1] = m end
    if desc then
      if lo ~= '' and b <= lo then break end
      b = redis.call('ZREVRANGEBYLEX', idx, '(' .. b, '-', 'LIMIT', 0, 1)[1]
    else
      b = redis.call('ZRANGEBYLEX', idx, '(' .. b, '+', 'LIMIT', 0, 1)[1]
      if b and hi ~= '' and b >= hi then break end
    end
  end
  return out
end
