-- add: ARGV = P, n, then n jobs as read_job reads them.
-- Returns per job {1, id} when inserted, {0, id, fields} for the job already holding its id
-- (else its key).
local n = num(ARGV[2])
local out, i, created = {}, 3, 0
for k = 1, n do
  local id, q, due, key, fields
  i, id, q, due, key, fields = read_job(i)
  local got, new = add_job(id, q, due, key, fields)
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
