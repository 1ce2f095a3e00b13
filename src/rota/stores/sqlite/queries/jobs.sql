-- Job queries, loaded by name. Every "job row" has the columns in the field order of Job
-- (see _codec.py). Times are integer microseconds since the epoch.

-- name: insert_job
INSERT INTO jobs (
    id, task, queue, payload, priority, status, due_at, created_at, attempts, max_attempts,
    token, lease_owner, lease_expires_at, started_at, finished_at, key, schedule_id,
    fire_time, timeout, last_error, result, headers,
    progress, progress_message, progress_at,
    concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
          ?, ?, ?, ?, ?);

-- name: jobs_by_keys
SELECT id, task, queue, payload, priority, status, due_at, created_at, attempts, max_attempts,
       token, lease_owner, lease_expires_at, started_at, finished_at, key, schedule_id,
       fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
FROM jobs WHERE key IN (SELECT value FROM json_each(?));

-- name: claim_pending
-- The fast path: one queue, no expired lease to take over. INDEXED BY: walking jobs_claim
-- needs no sort, but the planner may guess that jobs_due (a due_at range) is cheaper.
UPDATE jobs
SET status = 'running', lease_owner = :worker, lease_expires_at = :expires,
    started_at = :now, token = token + 1, attempts = attempts + 1,
    progress = NULL, progress_message = NULL, progress_at = NULL
WHERE id IN (
    SELECT id FROM jobs INDEXED BY jobs_claim
    WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
      AND rate_key IS NULL AND due_at <= :now
    ORDER BY priority DESC, due_at, id
    LIMIT :limit
)
RETURNING id, task, queue, payload, priority, status, due_at, created_at, attempts,
          max_attempts, token, lease_owner, lease_expires_at, started_at, finished_at, key,
          schedule_id, fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period;

-- name: pending_candidates
SELECT id, priority, due_at FROM jobs INDEXED BY jobs_claim
WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL AND rate_key IS NULL
  AND due_at <= :now
ORDER BY priority DESC, due_at, id
LIMIT :limit;

-- name: limited_candidates
-- Pending jobs with limits, in claim order; the claim reads as many as it needs (it passes
-- over those their limits hold back).
SELECT id, priority, due_at, concurrency_key, concurrency_limit, rate_key, rate_limit,
       rate_period
FROM jobs INDEXED BY jobs_limited
WHERE queue = :queue AND status = 'pending'
  AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL) AND due_at <= :now
ORDER BY priority DESC, due_at, id;

-- name: expired_candidates
SELECT id, priority, due_at, token, lease_owner, started_at, attempts, max_attempts, schedule_id,
       concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
FROM jobs
WHERE queue = :queue AND status = 'running' AND lease_expires_at <= :now
ORDER BY priority DESC, due_at, id
LIMIT :limit;

-- name: any_expired
-- Whether a claim of :queue needs more than the fast path: an expired lease to take over,
-- or a due job with limits. Two probes of partial indexes, empty ones in the common case.
SELECT EXISTS (
    SELECT 1 FROM jobs
    WHERE queue = :queue AND status = 'running' AND lease_expires_at <= :now
) OR EXISTS (
    SELECT 1 FROM jobs INDEXED BY jobs_limited_due
    WHERE queue = :queue AND status = 'pending'
      AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL) AND due_at <= :now
);

-- name: live_holders
-- Jobs with this concurrency key running with an unexpired lease.
SELECT count(*) FROM jobs INDEXED BY jobs_holding
WHERE concurrency_key = :key AND status = 'running' AND concurrency_key IS NOT NULL
  AND lease_expires_at > :now;

-- name: holders
-- Jobs with this concurrency key running (any lease), and their earliest lease expiry.
SELECT count(*), min(lease_expires_at) FROM jobs INDEXED BY jobs_holding
WHERE concurrency_key = :key AND status = 'running' AND concurrency_key IS NOT NULL;

-- name: bucket
SELECT tat FROM rate_buckets WHERE key = ?;

-- name: put_bucket
INSERT INTO rate_buckets (key, tat) VALUES (?, ?)
ON CONFLICT (key) DO UPDATE SET tat = excluded.tat;

-- name: forget_full_buckets
DELETE FROM rate_buckets WHERE tat <= ?;

-- name: hold_lost_job
-- An expired job whose limits hold it back: pending again, its lost attempt recorded.
UPDATE jobs SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL
WHERE id = ? AND status = 'running';

-- name: limited_by_due
-- Pending jobs with limits in due order (next_due weighs their limits).
SELECT due_at, concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
FROM jobs INDEXED BY jobs_limited_due
WHERE queue = :queue AND status = 'pending'
  AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL)
ORDER BY due_at
LIMIT :limit;

-- name: claim_ids
UPDATE jobs
SET status = 'running', lease_owner = :worker, lease_expires_at = :expires,
    started_at = :now, token = token + 1, attempts = attempts + 1,
    progress = NULL, progress_message = NULL, progress_at = NULL
WHERE id IN (SELECT value FROM json_each(:ids))
RETURNING id, task, queue, payload, priority, status, due_at, created_at, attempts,
          max_attempts, token, lease_owner, lease_expires_at, started_at, finished_at, key,
          schedule_id, fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period;

-- name: fail_lost_job
UPDATE jobs
SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, finished_at = :now,
    last_error = :error
WHERE id = :id;

-- name: insert_attempt
INSERT INTO attempts (
    job_id, number, worker, started_at, finished_at, outcome, error_type, error_message,
    traceback
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: schedule_failed
UPDATE schedules SET fail_count = fail_count + 1, last_error = ? WHERE id = ?;

-- name: heartbeat
UPDATE jobs SET lease_expires_at = :expires
FROM (SELECT value ->> 0 AS jid, value ->> 1 AS tok FROM json_each(:refs)) AS r
WHERE jobs.id = r.jid AND jobs.token = r.tok
  AND jobs.status = 'running' AND jobs.lease_expires_at > :now
RETURNING jobs.id;

-- name: finish_candidates
SELECT j.id, j.token, j.started_at, j.schedule_id, j.queue, j.concurrency_key
FROM (SELECT value ->> 0 AS jid, value ->> 1 AS tok FROM json_each(:refs)) AS r
JOIN jobs AS j ON j.id = r.jid AND j.token = r.tok
WHERE j.status = 'running';

-- name: finish_job
UPDATE jobs
SET status = ?, due_at = coalesce(?, due_at), finished_at = coalesce(?, finished_at),
    last_error = ?, result = ?,
    lease_owner = NULL, lease_expires_at = NULL
WHERE id = ? AND token = ? AND status = 'running';

-- name: set_progress
UPDATE jobs SET progress = ?, progress_message = ?, progress_at = ?
WHERE id = ? AND token = ? AND status = 'running';

-- name: release_candidates
-- The claims release gives back (the same write transaction then records and updates them).
SELECT j.id, j.token, j.lease_owner, j.started_at, j.queue, j.concurrency_key
FROM (SELECT value ->> 0 AS jid, value ->> 1 AS tok FROM json_each(:refs)) AS r
JOIN jobs AS j ON j.id = r.jid AND j.token = r.tok
WHERE j.status = 'running';

-- name: release
UPDATE jobs
SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
    attempts = max(attempts - 1, 0)
FROM (SELECT value ->> 0 AS jid, value ->> 1 AS tok FROM json_each(:refs)) AS r
WHERE jobs.id = r.jid AND jobs.token = r.tok AND jobs.status = 'running';

-- name: get_job
SELECT id, task, queue, payload, priority, status, due_at, created_at, attempts, max_attempts,
       token, lease_owner, lease_expires_at, started_at, finished_at, key, schedule_id,
       fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
FROM jobs WHERE id = ?;

-- name: find_jobs
-- list_jobs. {where} is the conditions the filter sets, each a constant fragment of
-- _jobs.FIND_CONDITIONS (never user text), {order} ASC or DESC: a page walks one index in id
-- order (the primary key, jobs_key, jobs_status_id, jobs_queue_id, jobs_task_id or
-- jobs_schedule_id) and stops after :limit rows.
SELECT id, task, queue, payload, priority, status, due_at, created_at, attempts, max_attempts,
       token, lease_owner, lease_expires_at, started_at, finished_at, key, schedule_id,
       fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
FROM jobs
WHERE {where}
ORDER BY id {order}
LIMIT :limit;

-- name: get_attempts
SELECT job_id, number, worker, started_at, finished_at, outcome, error_type, error_message,
       traceback
FROM attempts WHERE job_id = ? ORDER BY number;

-- name: cancel_job
UPDATE jobs
SET status = 'cancelled', finished_at = :now, lease_owner = NULL, lease_expires_at = NULL
WHERE id = :id
RETURNING id, task, queue, payload, priority, status, due_at, created_at, attempts,
          max_attempts, token, lease_owner, lease_expires_at, started_at, finished_at, key,
          schedule_id, fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period;

-- name: requeue_job
UPDATE jobs
SET status = 'pending', due_at = :now, attempts = 0, finished_at = NULL,
    lease_owner = NULL, lease_expires_at = NULL
WHERE id = :id
RETURNING id, task, queue, payload, priority, status, due_at, created_at, attempts,
          max_attempts, token, lease_owner, lease_expires_at, started_at, finished_at, key,
          schedule_id, fire_time, timeout, last_error, result, headers,
       progress, progress_message, progress_at,
          concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period;

-- name: purge
DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs
    WHERE finished_at < :before AND status IN ('succeeded', 'failed', 'cancelled')
    LIMIT :limit
)
RETURNING queue, status;

-- name: purge_statuses
-- purge narrowed to some final statuses (a JSON array of them)
DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs
    WHERE finished_at < :before AND status IN (SELECT value FROM json_each(:statuses))
    ORDER BY finished_at
    LIMIT :limit
)
RETURNING queue, status;

-- name: stats
SELECT queue, status, n FROM job_counts WHERE n != 0;

-- name: count_bump
INSERT INTO job_counts (queue, status, n) VALUES (?, ?, ?)
ON CONFLICT (queue, status) DO UPDATE SET n = n + excluded.n;

-- name: recount
-- The slow truth that job_counts must always equal (used by tests).
SELECT queue, status, count(*) FROM jobs GROUP BY queue, status;

-- name: next_pending_due
-- The earliest due_at per queue from jobs_claim (ordered by priority first): step through
-- the distinct priorities, taking the first due_at of each; every step is one index seek.
WITH RECURSIVE prio(p) AS (
    SELECT (SELECT priority FROM jobs INDEXED BY jobs_claim
            WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
              AND rate_key IS NULL
            ORDER BY priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT priority FROM jobs INDEXED BY jobs_claim
            WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
              AND rate_key IS NULL AND priority < prio.p
            ORDER BY priority DESC LIMIT 1)
    FROM prio WHERE prio.p IS NOT NULL
)
SELECT min((SELECT due_at FROM jobs INDEXED BY jobs_claim
            WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
              AND rate_key IS NULL AND priority = prio.p
            ORDER BY priority DESC, due_at LIMIT 1))
FROM prio WHERE prio.p IS NOT NULL;

-- name: count_delayed
-- Pending jobs of a queue due after :now, from jobs_claim: one range per distinct priority
-- (stepped through as in next_pending_due), so it reads the delayed entries, not every
-- pending one.
WITH RECURSIVE prio(p) AS (
    SELECT (SELECT priority FROM jobs INDEXED BY jobs_claim
            WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
              AND rate_key IS NULL
            ORDER BY priority DESC LIMIT 1)
    UNION ALL
    SELECT (SELECT priority FROM jobs INDEXED BY jobs_claim
            WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
              AND rate_key IS NULL AND priority < prio.p
            ORDER BY priority DESC LIMIT 1)
    FROM prio WHERE prio.p IS NOT NULL
)
SELECT coalesce(sum((SELECT count(*) FROM jobs INDEXED BY jobs_claim
                     WHERE queue = :queue AND status = 'pending' AND concurrency_key IS NULL
                       AND rate_key IS NULL AND priority = prio.p AND due_at > :now)), 0)
       + (SELECT count(*) FROM jobs INDEXED BY jobs_limited_due
          WHERE queue = :queue AND status = 'pending'
            AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL) AND due_at > :now)
FROM prio WHERE prio.p IS NOT NULL;

-- name: next_lease_expiry
SELECT min(lease_expires_at) FROM jobs WHERE queue = :queue AND status = 'running';

-- name: count_finished
-- Jobs finished in [:since, :until) per bucket (k: its number from :since), queue and status,
-- from jobs_finished: a range of the finished jobs by time, never the whole table.
SELECT (finished_at - :since) / :bucket AS k, queue, status, count(*)
FROM jobs INDEXED BY jobs_finished
WHERE finished_at >= :since AND finished_at < :until
  AND status IN ('succeeded', 'failed', 'cancelled')
GROUP BY k, queue, status
ORDER BY k, queue, status;
