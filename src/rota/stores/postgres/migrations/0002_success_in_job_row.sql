-- rota schema, version 2: a succeeded attempt is recorded in its job's row.
--
-- A job that succeeded has ended with that attempt, so everything its attempt record would
-- hold is already in the row: number = token, started_at, finished_at, outcome 'succeeded',
-- no error. Only the worker was missing (lease_owner is cleared at finish): `worker` now
-- keeps it. `finish` then writes no attempts row for a success, sparing a heap insert, an
-- index insert and their WAL on the commonest path; `get_attempts` adds the success from the
-- job row. Failed, retried, timed-out, cancelled and lost attempts still get their own rows.
-- Jobs that succeeded before this version have their row in attempts and no `worker`.
ALTER TABLE jobs ADD COLUMN worker text;
