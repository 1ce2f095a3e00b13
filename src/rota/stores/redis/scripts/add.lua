-- add: ARGV = P, n, then n jobs as read_job reads them, then now (ms).
-- Returns per job {1, id} when inserted, {0, id, fields} for the job already holding its key;
-- {'exists', id} (nothing written) when a job with one of the ids is already stored.
local n = num(ARGV[2])
local now = num(ARGV[#ARGV])
local out, i, created = {}, 3, 0
for _ = 1, n do
  local id = ARGV[i]
  if redis.call('EXISTS', jkey(id)) == 1 then return {'exists', id} end
  i = i + 5
end
i = 3
for k = 1, n do
  local id, q, due, key, fields
  i, id, q, due, key, fields = read_job(i)
  local got, new = add_job(id, q, due, key, fields, now)
  if new then
    created = created + 1
    out[k] = {1, got}
  else
    out[k] = {0, got, redis.call('HGETALL', jkey(got))}
  end
end
flush_counts()
if created > 0 then redis.call('PUBLISH', P .. ':wake:jobs', '1') end
return out
