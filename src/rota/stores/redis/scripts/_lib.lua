-- Shared helpers, prepended to every script. Convention: ARGV[1] is the namespace "{prefix}"
-- (a hash tag, so every key of a namespace lives in one cluster slot) and KEYS[1] is one
-- key of that namespace, declared so that cluster clients route the call to its node.
-- Times are integer milliseconds since the epoch, passed in by the caller (never TIME).
local P = ARGV[1]

local function jkey(id) return P .. ':j:' .. id end
local function akey(id) return P .. ':a:' .. id end
local function num(s) return tonumber(s) end
-- A stored job field as a number, or d when it holds what no version of rota writes (text,
-- nan, inf, a number too big for a time): one bad job must not fail a script that serves
-- every job. The job itself is then failed by the worker (its decoded form names the field).
local function int_or(s, d)
  local v = tonumber(s)
  if v == nil or v ~= v or v > 1e15 or v < -1e15 then return d end
  return v
end
-- ready-set member: same score (= -priority) members sort by bytes, so due time then id
local function rmember(due, id) return string.format('%015d', int_or(due, 0)) .. id end

-- one command for many arguments (chunks stay far below Lua's unpack limit)
local function batch(cmd, key, items)
  for i = 1, #items, 1000 do
    redis.call(cmd, key, unpack(items, i, math.min(i + 999, #items)))
  end
end

-- per-key argument lists, flushed with batch() at the end of a script
local function push(t, key, ...)
  local l = t[key]
  if not l then l = {}; t[key] = l end
  for _, v in ipairs({...}) do l[#l + 1] = v end
end
local function flush(t, cmd)
  for key, items in pairs(t) do batch(cmd, key, items) end
end

local counts = {}
local function count(status, queue, n)
  local f = status .. '|' .. queue
  counts[f] = (counts[f] or 0) + n
end
local function flush_counts()
  for f, n in pairs(counts) do
    if n ~= 0 then
      if redis.call('HINCRBY', P .. ':cnt', f, n) <= 0 then redis.call('HDEL', P .. ':cnt', f) end
    end
  end
  counts = {}
end

-- one attempt record; err is {type, message, traceback} (decoded JSON) or nil; absent
-- values are encoded as false
local function attempt(id, number, worker, started, finished, outcome, err)
  err = err or {false, false, false}
  redis.call('RPUSH', akey(id), cjson.encode({number, worker or false, started or false,
    finished, outcome, err[1], err[2], err[3]}))
end

-- a named lease (fence) is still held by owner with token at now
local function fence_ok(name, owner, token, now)
  if name == '' then return true end
  local l = redis.call('HMGET', P .. ':lease:' .. name, 'o', 'tk', 'e')
  return l[1] == owner and l[2] == token and l[3] and num(l[3]) > num(now)
end

-- the job leaves its pending/running index (whichever holds it), and its concurrency key's
-- set of running jobs (ck: the key, or nil)
local function unindex(id, h_status, q, due, ck)
  if h_status == 'pending' then
    if redis.call('ZREM', P .. ':r:' .. q, rmember(due, id)) == 1 then return end
    if redis.call('ZREM', P .. ':lr:' .. q, rmember(due, id)) == 1 then return end
    local sets, d = {P .. ':due:' .. q, P .. ':ldue:' .. q}, int_or(due, nil)
    for _, idx in ipairs(sets) do
      if d and ox_rem(idx, false, d, id) == 1 then return end
    end
    -- its stored due time is not the one it was indexed by (no version of rota writes that)
    for _, idx in ipairs(sets) do
      if ox_rem_any(idx, id) == 1 then return end
    end
  elseif h_status == 'running' then
    redis.call('ZREM', P .. ':run:' .. q, id)
    if ck then redis.call('ZREM', P .. ':cc:' .. ck, id) end
  end
end

-- the job becomes final: indexed for purge by finished time
local function finalize(id, q, from, to, now)
  redis.call('HSET', jkey(id), 's', to, 'f', now)
  redis.call('HDEL', jkey(id), 'lo', 'le')
  redis.call('ZADD', P .. ':fin', now, id)
  count(from, q, -1)
  count(to, q, 1)
end

-- the delayed set of a pending job: jobs with limits (hash field ck or rk) have their own
local function delayed_set(q, limited)
  if limited then return P .. ':ldue:' .. q end
  return P .. ':due:' .. q
end
-- the job id joins its queue's delayed set (an ordered index: _ordered.lua), by due time (ms)
local function delay(q, limited, due, id)
  ox_add_later(delayed_set(q, limited), false, due, id)
end

-- the dependants of a job that just ended with status (its result: res, or nil) are settled
-- (rota.stores._deps.settle), transitively: each edge (the parent's set P:dep:<id>) once.
-- Returns whether one became pending (wake the workers).
local function settle_dependants(id, status, res, now)
  local todo, released = {{id, status, res}}, false
  while #todo > 0 do
    local t = table.remove(todo)
    local pid, pst = t[1], t[2]
    local dk = P .. ':dep:' .. pid
    local kids = redis.call('SMEMBERS', dk)
    redis.call('DEL', dk)
    for _, cid in ipairs(kids) do
      local ck = jkey(cid)
      local h = redis.call('HMGET', ck, 's', 'q', 'pl', 'af', 'tr', 'd', 'ck', 'rk', 'dp')
      if h[1] == 'waiting' then
        local q = h[2]
        if pst == 'succeeded' or h[4] == '1' then
          local left = math.max(0, int_or(h[3], 0) - 1)
          redis.call('HSET', ck, 'pl', left)
          if h[5] == '1' and pst == 'succeeded' then redis.call('HSET', ck, 'p', t[3] or 'null') end
          if left == 0 then
            redis.call('HSET', ck, 's', 'pending')
            delay(q, h[7] or h[8], int_or(h[6], 0), cid)
            count('waiting', q, -1)
            count('pending', q, 1)
            released = true
          end
        else
          finalize(cid, q, 'waiting', 'cancelled', now)
          redis.call('HSET', ck, 'e', 'DependencyFailed: parent job ' .. pid .. ' ' .. pst)
          if int_or(h[9], 0) > 0 then todo[#todo + 1] = {cid, 'cancelled', nil} end
        end
      end
    end
  end
  return released
end

-- insert one job unless its id or dedupe key is known; returns existing-or-new id, created
-- (status: 'waiting' or 'cancelled' for a job its parents hold or cancelled; nil: pending).
-- A pending job already due at now (ms; nil: never) goes straight to its ready set, so a
-- claim has nothing to promote for it and its cost does not grow with the jobs waiting there.
local function add_job(id, q, due, key, fields, status, now)
  -- a taken id returns its holder (a retried add, a caller's id), else a taken key
  if redis.call('EXISTS', jkey(id)) == 1 then return id, false end
  if key ~= '' then
    local existing = redis.call('HGET', P .. ':keys', key)
    if existing then return existing, false end
  end
  redis.call('HSET', jkey(id), unpack(fields))
  if key ~= '' then redis.call('HSET', P .. ':keys', key, id) end
  ox_add_later(P .. ':ids', true, nil, id)
  local limited, priority = false, 0
  for j = 1, #fields, 2 do
    if fields[j] == 'ck' or fields[j] == 'rk' then limited = true end
    if fields[j] == 'pr' then priority = int_or(fields[j + 1], 0) end
  end
  if status == 'waiting' then
    count('waiting', q, 1)
  elseif status == 'cancelled' then
    redis.call('ZADD', P .. ':fin', now, id)
    count('cancelled', q, 1)
  else
    if now and num(due) <= num(now) then
      local ready = ':r:'
      if limited then ready = ':lr:' end
      redis.call('ZADD', P .. ready .. q, -priority, rmember(due, id))
    else
      delay(q, limited, int_or(due, 0), id)
    end
    count('pending', q, 1)
  end
  return id, true
end

-- reads ARGV[i..] as one job (id, queue, due, key, packed fields); returns next index. The
-- fields and values come packed as '<length>:<bytes>' each (rota.stores.redis._codec.pack).
local function read_job(i)
  local id, q, due, key, packed = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  local fields, at = {}, 1
  while at <= #packed do
    local colon = string.find(packed, ':', at, true)
    local stop = colon + num(string.sub(packed, at, colon - 1))
    fields[#fields + 1] = string.sub(packed, colon + 1, stop)
    at = stop + 1
  end
  return i + 5, id, q, due, key, fields
end

-- keep the schedule's due index: score = next fire, or lease expiry when later; paused or
-- never-firing schedules are not indexed. Schedules leased under a leader's term are also
-- in sfence, by the term's token, so a later term finds them before their lease expires.
local function sched_index(sid)
  local h = redis.call('HMGET', P .. ':sch:' .. sid, 'nf', 'pa', 'le', 'lt')
  if h[4] then
    redis.call('ZADD', P .. ':sfence', h[4], sid)
  else
    redis.call('ZREM', P .. ':sfence', sid)
  end
  if not h[1] or h[2] == '1' then
    redis.call('ZREM', P .. ':sdue', sid)
    return
  end
  local score = num(h[1])
  if h[3] and num(h[3]) > score then score = num(h[3]) end
  redis.call('ZADD', P .. ':sdue', score, sid)
end

-- the schedule's lease ends: owner, expiry and the term it was taken under
local function sched_unlease(sk)
  redis.call('HDEL', sk, 'lo', 'le', 'ln', 'lt')
end

