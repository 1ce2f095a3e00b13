-- set_progress: ARGV = P, now, id, token, progress, has_message ('1'/'0'), message.
-- Written only while the job runs with that token; returns 1 when written, else 0.
local now, id, token = ARGV[2], ARGV[3], ARGV[4]
local jk = jkey(id)
local h = redis.call('HMGET', jk, 's', 'tk')
if h[1] ~= 'running' or h[2] ~= token then return 0 end
redis.call('HSET', jk, 'pg', ARGV[5], 'pa', now)
if ARGV[6] == '1' then
  redis.call('HSET', jk, 'pm', ARGV[7])
else
  redis.call('HDEL', jk, 'pm')
end
return 1
