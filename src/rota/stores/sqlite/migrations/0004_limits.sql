-- rota schema, version 4: rate and concurrency limits, held by the claim (see Store.claim).
--
-- A job carries its task's limits. Pending jobs with limits leave jobs_claim for an index of
-- their own, so that the ones a claim holds back never stand in front of the others (the
-- claim merges the two in claim order); jobs_limited_due walks them in due order (next_due,
-- stats). jobs_holding counts a concurrency key's running jobs; rate_buckets keeps each
-- rate key's token bucket as GCRA's theoretical arrival time (microseconds; a row whose
-- time has passed is a full bucket, which purge may delete).

ALTER TABLE jobs ADD COLUMN concurrency_key TEXT;
ALTER TABLE jobs ADD COLUMN concurrency_limit INTEGER;
ALTER TABLE jobs ADD COLUMN rate_key TEXT;
ALTER TABLE jobs ADD COLUMN rate_limit INTEGER;
ALTER TABLE jobs ADD COLUMN rate_period REAL;

DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, due_at, id)
    WHERE status = 'pending' AND concurrency_key IS NULL AND rate_key IS NULL;
CREATE INDEX jobs_limited ON jobs (queue, priority DESC, due_at, id)
    WHERE status = 'pending' AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL);
CREATE INDEX jobs_limited_due ON jobs (queue, due_at)
    WHERE status = 'pending' AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL);
CREATE INDEX jobs_holding ON jobs (concurrency_key, lease_expires_at)
    WHERE status = 'running' AND concurrency_key IS NOT NULL;

CREATE TABLE rate_buckets (
    key TEXT PRIMARY KEY,
    tat INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX rate_buckets_tat ON rate_buckets (tat);
