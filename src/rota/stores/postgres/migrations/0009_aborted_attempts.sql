-- rota schema, version 9: an attempt stopped by an abort is recorded as such.
--
-- `abort` (app.abort of a running job) cancels the job and records its attempt with outcome
-- 'aborted'. The check constraint on attempts.outcome grows by that value. NOT VALID: every
-- existing row already passed the narrower check, so there is nothing to re-scan.
ALTER TABLE attempts DROP CONSTRAINT attempts_outcome_check;
ALTER TABLE attempts ADD CONSTRAINT attempts_outcome_check
    CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'lease_lost', 'cancelled', 'released',
                       'aborted'))
    NOT VALID;
