-- add: ARGV = P, n, now, then n jobs as read_job reads them.
-- Returns per job {1, id} when inserted, {2, id, fields} when inserted as its parents made it
-- (rota.stores._deps.link), {0, id, fields} for the job already holding its id (else its
-- key: a taken id wins); {'missing', id, parent} (nothing written) when a parent is in
-- neither the store nor the batch.
local n, now = num(ARGV[2]), ARGV[3]
local out, i, created = {}, 4, 0
local jobs = {}
for k = 1, n do
  local id, q, due, key, fields
  i, id, q, due, key, fields = read_job(i)
  jobs[k] = {id, q, due, key, fields}
end

-- plan the jobs with parents before writing anything (a script is not rolled back)
local known, keys, plan, edges, deps, linked = {}, {}, {}, {}, {}, {}
for k = 1, n do
  local id, key, fields = jobs[k][1], jobs[k][4], jobs[k][5]
  local holder = nil
  -- a stored id answers for itself: not linked, not counted (its parents read it from the store)
  if redis.call('EXISTS', jkey(id)) == 1 then
    holder = id
  elseif key ~= '' then
    holder = redis.call('HGET', P .. ':keys', key) or keys[key]
  end
  if holder then
    known[id] = {holder}
  else
    local f = {}
    for j = 1, #fields, 2 do f[fields[j]] = j end
    local status = 'pending'
    if f['pp'] then
      linked[id] = true
      local parents = cjson.decode(fields[f['pp'] + 1])
      local left, err, payload, open = 0, nil, nil, {}
      for j, pid in ipairs(parents) do
        if known[pid] then pid = known[pid][1] end
        parents[j] = pid
        local st, res
        local mine = known[pid]
        if mine and mine[1] == pid and mine[2] then
          st = mine[2]
        else
          local h = redis.call('HMGET', jkey(pid), 's', 'r')
          if not h[1] then return {'missing', id, pid} end
          st, res = h[1], h[2]
        end
        if st == 'succeeded' then
          if f['tr'] and fields[f['tr'] + 1] == '1' then payload = res or 'null' end
        elseif st == 'failed' or st == 'cancelled' then
          if not (f['af'] and fields[f['af'] + 1] == '1') and not err then
            err = 'DependencyFailed: parent job ' .. pid .. ' ' .. st
          end
        else
          left = left + 1
          open[#open + 1] = pid
        end
      end
      fields[f['pp'] + 1] = cjson.encode(parents)
      if err then
        status = 'cancelled'
        fields[f['s'] + 1] = 'cancelled'
        push(plan, id, 'f', now, 'e', err)
      else
        if left > 0 then
          status = 'waiting'
          fields[f['s'] + 1] = 'waiting'
          push(plan, id, 'pl', left)
          for _, pid in ipairs(open) do edges[#edges + 1] = {pid, id} end
        end
        if payload then
          -- (a null payload is not stored: the hash holds no field p)
          if f['p'] then fields[f['p'] + 1] = payload else push(plan, id, 'p', payload) end
        end
      end
      for _, pid in ipairs(parents) do deps[#deps + 1] = pid end
    end
    known[id] = {id, status}
    if key ~= '' then keys[key] = id end
  end
end

ox_defer() -- the index entries are made in order at the end (ox_flush)
for k = 1, n do
  local id, q, due, key, fields = unpack(jobs[k])
  local extra = plan[id]
  if extra then
    for _, v in ipairs(extra) do fields[#fields + 1] = v end
  end
  local status = nil
  if linked[id] then status = known[id][2] end
  local got, new = add_job(id, q, due, key, fields, status, now)
  if new then
    created = created + 1
    if status then
      out[k] = {2, got, redis.call('HGETALL', jkey(got))}
    else
      out[k] = {1, got}
    end
  else
    out[k] = {0, got, redis.call('HGETALL', jkey(got))}
  end
end
ox_flush()
for _, pid in ipairs(deps) do redis.call('HINCRBY', jkey(pid), 'dp', 1) end
for _, e in ipairs(edges) do redis.call('SADD', P .. ':dep:' .. e[1], e[2]) end
flush_counts()
if created > 0 then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
return out
