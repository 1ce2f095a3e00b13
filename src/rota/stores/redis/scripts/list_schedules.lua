-- list_schedules: ARGV = P. Returns {id, fields}... by id.
local out = {}
for _, sid in ipairs(redis.call('ZRANGE', P .. ':schs', 0, -1)) do
  out[#out + 1] = {sid, redis.call('HGETALL', P .. ':sch:' .. sid)}
end
return out
