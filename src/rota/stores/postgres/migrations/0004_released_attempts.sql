-- rota schema, version 4: a released claim leaves a trace in its job's history.
--
-- `release` (a worker giving back unfinished work at shutdown, or a job whose task lock is
-- busy) now records an attempt with outcome 'released' (not counted against max_attempts).
-- The check constraint on attempts.outcome grows by that value. NOT VALID: every existing row
-- already passed the narrower check, so there is nothing to re-scan; new rows are checked.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'lease_lost', 'cancelled', 'released'))
    NOT VALID;
