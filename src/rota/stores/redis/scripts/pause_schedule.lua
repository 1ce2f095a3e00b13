-- pause_schedule: ARGV = P, now, id, paused ('1'/'0'), next_fire on resume ('' keep).
-- Returns {'ok', fields} or {'missing'}.
local now, sid, paused, nf = ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local sk = P .. ':sch:' .. sid
if redis.call('EXISTS', sk) == 0 then return {'missing'} end
redis.call('HSET', sk, 'pa', paused, 'ua', now)
if paused == '0' and nf ~= '' then redis.call('HSET', sk, 'nf', nf) end
sched_unlease(sk)
redis.call('HINCRBY', sk, 'v', 1)
sched_index(sid)
redis.call('PUBLISH', P .. ':wake:sch', '1')
return {'ok', redis.call('HGETALL', sk)}
