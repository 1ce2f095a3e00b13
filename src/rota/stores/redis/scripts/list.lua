-- list: ARGV = P, after_id ('' from the start), budget, want, status, queue, task, schedule
-- ('' matches any). Scans at most budget ids in id order. Returns {last scanned id or false,
-- {id, fields}...} with at most want matches.
local after, budget, want = ARGV[2], num(ARGV[3]), num(ARGV[4])
local fs, fq, ft, fsc = ARGV[5], ARGV[6], ARGV[7], ARGV[8]
local lo = '-'
if after ~= '' then lo = '(' .. after end
local ids = redis.call('ZRANGEBYLEX', P .. ':all', lo, '+', 'LIMIT', 0, budget)
local out, last = {false}, false
for _, id in ipairs(ids) do
  last = id
  local h = redis.call('HMGET', jkey(id), 's', 'q', 't', 'sc')
  if h[1] and (fs == '' or h[1] == fs) and (fq == '' or h[2] == fq) and (ft == '' or h[3] == ft)
      and (fsc == '' or h[4] == fsc) then
    out[#out + 1] = {id, redis.call('HGETALL', jkey(id))}
    if #out - 1 >= want then break end
  end
end
if #ids < budget and #out - 1 < want then last = false end
out[1] = last
return out
