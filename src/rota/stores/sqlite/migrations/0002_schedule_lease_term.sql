-- rota schema, version 2: a schedule leased by a leader's scheduler pass records the term
-- (the leader lease's name and fencing token), so that the next leader can take the
-- schedule over at once instead of waiting for the dead leader's lease to expire.
-- No index: a schedule taken over is due, so schedules_due finds it.

ALTER TABLE schedules ADD COLUMN lease_fence_name TEXT;
ALTER TABLE schedules ADD COLUMN lease_fence_token INTEGER;
