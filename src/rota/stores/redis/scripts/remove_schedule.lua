-- remove_schedule: ARGV = P, id. Its jobs stay. Returns 1 when it existed.
local sid = ARGV[2]
redis.call('ZREM', P .. ':schs', sid)
redis.call('ZREM', P .. ':sdue', sid)
redis.call('ZREM', P .. ':sfence', sid)
local existed = redis.call('DEL', P .. ':sch:' .. sid)
if existed == 1 then redis.call('PUBLISH', P .. ':wake:sch', '1') end
return existed
