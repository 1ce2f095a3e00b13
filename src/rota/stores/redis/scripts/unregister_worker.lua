-- unregister_worker: ARGV = P, id. Returns 1 when the entry existed.
local id = ARGV[2]
redis.call('ZREM', P .. ':workers', id)
return redis.call('DEL', P .. ':w:' .. id)
