-- put_schedule: ARGV = P, now, id, next_fire ('' none), ndef, ndef definition pairs,
-- nstate, nstate pairs (the full schedule, used only when it is new).
-- Returns {changed 1/0, fields}.
local now, sid, nf, ndef = ARGV[2], ARGV[3], ARGV[4], num(ARGV[5])
local sk = P .. ':sch:' .. sid
local defs = {}
for j = 1, 2 * ndef do defs[j] = ARGV[5 + j] end
local s = 6 + 2 * ndef
local nstate = num(ARGV[s])
if redis.call('EXISTS', sk) == 0 then
  local state = {}
  for j = 1, 2 * nstate do state[j] = ARGV[s + j] end
  redis.call('HSET', sk, unpack(state))
  redis.call('HSET', sk, unpack(defs))
  redis.call('HSET', sk, 'v', 1, 'ua', now)
  redis.call('ZADD', P .. ':schs', 0, sid)
else
  local same, trigger_changed = true, false
  for j = 1, 2 * ndef, 2 do
    if redis.call('HGET', sk, defs[j]) ~= defs[j + 1] then
      same = false
      if defs[j] == 'tr' then trigger_changed = true end
    end
  end
  if same then return {0, redis.call('HGETALL', sk)} end
  redis.call('HSET', sk, unpack(defs))
  if trigger_changed then
    if nf ~= '' then redis.call('HSET', sk, 'nf', nf) else redis.call('HDEL', sk, 'nf') end
  end
  sched_unlease(sk)
  redis.call('HINCRBY', sk, 'v', 1)
  redis.call('HSET', sk, 'ua', now)
end
sched_index(sid)
redis.call('PUBLISH', P .. ':wake:sch', '1')
return {1, redis.call('HGETALL', sk)}
