-- register_worker: ARGV = P, id, expires, then the entry's hash fields (name, value...).
-- The entry is replaced whole; the index orders entries by expiry.
local id, expires = ARGV[2], ARGV[3]
local wk = P .. ':w:' .. id
redis.call('DEL', wk)
redis.call('HSET', wk, unpack(ARGV, 4))
redis.call('ZADD', P .. ':workers', expires, id)
return 1
