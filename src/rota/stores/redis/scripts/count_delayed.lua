-- count_delayed: ARGV = P, now, nq, queues... Per queue, pending jobs due after now: the
-- queue's delayed sets (d, and ld for jobs with limits) are ordered by due time (due jobs
-- move to the ready sets when claimed).
-- Returns one count per queue, in order.
local now, nq = ARGV[2], num(ARGV[3])
local out = {}
for k = 1, nq do
  out[k] = ox_count_above(P .. ':due:' .. ARGV[3 + k], now)
    + ox_count_above(P .. ':ldue:' .. ARGV[3 + k], now)
end
return out
