-- list: ARGV = P, after, before ('' for no bound; both exclusive), desc ('1': newest first),
-- budget, want, status, queue, task, schedule, key ('' matches any).
-- Where the ids come from: with a key, the one job holding it (N:keys); for running jobs, the
-- running sets of the queues (few: one entry per job a worker runs); otherwise the ids in id
-- order (N:ids), at most `budget` of them per run so that no run blocks the server long.
-- Returns {last id looked at when the caller should go on from it, else false; then
-- {id, fields}... with at most `want` matches}.
local after, before, desc = ARGV[2], ARGV[3], ARGV[4] == '1'
local budget, want = num(ARGV[5]), num(ARGV[6])
local fs, fq, ft, fsc, fk = ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11]

local ids, paged = {}, false
if fk ~= '' then
  local id = redis.call('HGET', P .. ':keys', fk)
  if id then ids = {id} end
elseif fs == 'running' then
  local queues = {}
  if fq ~= '' then
    queues = {fq}
  else
    for _, f in ipairs(redis.call('HKEYS', P .. ':cnt')) do
      local q = string.match(f, '^running|(.*)$')
      if q then queues[#queues + 1] = q end
    end
  end
  for _, q in ipairs(queues) do
    for _, id in ipairs(redis.call('ZRANGE', P .. ':run:' .. q, 0, -1)) do ids[#ids + 1] = id end
  end
  if desc then table.sort(ids, function(a, b) return a > b end) else table.sort(ids) end
else
  ids = ox_lex_range(P .. ':ids', after, before, desc, budget)
  paged = #ids >= budget
end

local out, last, matched = {false}, false, 0
for _, id in ipairs(ids) do
  last = id
  local h = redis.call('HMGET', jkey(id), 's', 'q', 't', 'sc')
  if h[1] and (fs == '' or h[1] == fs) and (fq == '' or h[2] == fq) and (ft == '' or h[3] == ft)
      and (fsc == '' or h[4] == fsc) and (after == '' or id > after) and (before == '' or id < before) then
    out[#out + 1] = {id, redis.call('HGETALL', jkey(id))}
    matched = matched + 1
    if matched >= want then break end
  end
end
if paged and matched < want then out[1] = last end
return out
