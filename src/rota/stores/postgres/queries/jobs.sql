-- Every statement the PostgreSQL store runs, loaded by name (`-- name: x` starts a block).
-- They run with search_path set to the store's schema. Writes that must wake idle workers
-- call pg_notify in the same statement, so the notification is sent iff the write commits.
-- This file: jobs and their attempts. Job rows are jobs.* (Job's fields in order, then
-- the columns migrations appended).

-- name: add_jobs
-- One round trip for any number of jobs. Created rows return only their input position;
-- a duplicate key returns the stored row (NULL when its holder committed after this
-- statement's snapshot: the caller reads it with get_job_by_key).
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::text[], $4::bytea[], $5::int[], $6::timestamptz[],
        $7::timestamptz[], $8::int[], $9::text[], $10::text[], $11::timestamptz[],
        $12::float8[], $13::jsonb[], $14::text[], $15::int[], $16::text[], $17::int[],
        $18::float8[]
    ) WITH ORDINALITY AS t(id, task, queue, payload, priority, due_at, created_at,
                           max_attempts, key, schedule_id, fire_time, timeout, headers,
                           concurrency_key, concurrency_limit, rate_key, rate_limit,
                           rate_period, ord)
),
ins AS (
    INSERT INTO jobs (id, task, queue, payload, priority, status, due_at, created_at,
                      attempts, max_attempts, token, key, schedule_id, fire_time, timeout,
                      headers, concurrency_key, concurrency_limit, rate_key, rate_limit,
                      rate_period)
    SELECT id, task, queue, payload, priority, 'pending', due_at, created_at,
           0, max_attempts, 0, key, schedule_id, fire_time, timeout, headers,
           concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
    FROM input ORDER BY ord
    -- a taken id is not a duplicate but a conflict: it fails the whole statement
    ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
    RETURNING id, pg_notify($19, '')
)
SELECT i.ord, ins.id IS NOT NULL AS created, k AS existing
FROM input i
LEFT JOIN ins ON ins.id = i.id
LEFT JOIN jobs k ON ins.id IS NULL AND k.key = i.key
ORDER BY i.ord;

-- name: add_job
-- add of one job (the commonest call: `task.enqueue()`): a plain INSERT, a third of
-- add_jobs' cost for one row. No row back means the key is taken: the caller reads the holder.
INSERT INTO jobs (id, task, queue, payload, priority, status, due_at, created_at, attempts,
                  max_attempts, token, key, schedule_id, fire_time, timeout, headers,
                  concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period)
VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, 0, $8, 0, $9, $10, $11, $12, $13, $14, $15,
        $16, $17, $18)
ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING
RETURNING pg_notify($19, '');

-- name: get_job_by_key
SELECT * FROM jobs WHERE key = $1;

-- name: claim
-- One statement: lock candidates (SKIP LOCKED: concurrent claimers never wait on each
-- other), record the lost attempt of every expired lease, fail those that spent their last
-- attempt, and lease the rest with a bumped token. Per queue, the pending branch walks the
-- jobs_claim index in claim order and stops after $3 rows. The locked rows are updated
-- through `ctid = ANY(ARRAY(...))`, a TID scan straight to each row version: the lock held
-- since the CTE means no other transaction can have moved it (a row updated and committed
-- after this statement's snapshot is locked in its new version, invisible to the snapshot:
-- it is left as it is, neither claimed nor changed). Addressing rows by id cost a primary-key
-- probe per row, and a join with the CTE could be planned as a hash join over the whole table.
-- Jobs with limits are never taken here: when one is due (or its lease expired) in $1, the
-- statement claims nothing and says so (`limited`); the caller then calls claim_limited
-- (migration 0006), which takes every kind in claim order. Those two probes read partial
-- indexes that are empty while no job has limits. Always one row at least: the job columns
-- are NULL when nothing was claimed.
WITH limited AS (
    SELECT EXISTS (
        SELECT 1 FROM jobs j
        WHERE j.queue = ANY($1::text[]) AND j.status = 'pending'
          AND (j.concurrency_key IS NOT NULL OR j.rate_key IS NOT NULL) AND j.due_at <= $5
    ) OR EXISTS (
        SELECT 1 FROM jobs j
        WHERE j.lease_owner IS NOT NULL AND j.lease_expires_at <= $5 AND j.status = 'running'
          AND (j.concurrency_key IS NOT NULL OR j.rate_key IS NOT NULL)
          AND j.queue = ANY($1::text[])
    ) AS due
),
pending AS (
    SELECT c.* FROM unnest($1::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT j.ctid, j.id, j.priority, j.due_at, j.status, j.token, j.attempts,
               j.max_attempts, j.lease_owner, j.started_at
        FROM jobs j
        WHERE j.queue = q.name AND j.status = 'pending' AND j.concurrency_key IS NULL
          AND j.rate_key IS NULL AND j.due_at <= $5
          AND NOT (SELECT due FROM limited)
        ORDER BY j.priority DESC, j.due_at, j.id
        LIMIT $3
        FOR UPDATE SKIP LOCKED
    ) c
),
expired AS (
    SELECT j.ctid, j.id, j.priority, j.due_at, j.status, j.token, j.attempts, j.max_attempts,
           j.lease_owner, j.started_at
    FROM jobs j
    WHERE j.lease_owner IS NOT NULL AND j.lease_expires_at <= $5 AND j.status = 'running'
      AND j.queue = ANY($1::text[]) AND NOT (SELECT due FROM limited)
    -- claim order, not expiry order: expired leases are few (crashed workers), so sorting
    -- all of them is cheap, and the best of them must compete with the best pending jobs
    ORDER BY j.priority DESC, j.due_at, j.id
    -- jobs failed here do not count against the limit: take some more (bounded, as each
    -- is locked until commit; past that bound a claim may return fewer jobs than it could)
    LIMIT $3 + 100
    FOR UPDATE SKIP LOCKED
),
ranked AS (
    SELECT c.*, d.dies,
           -- how many claimable candidates up to and including this one, in claim order
           count(*) FILTER (WHERE NOT d.dies)
               OVER (ORDER BY c.priority DESC, c.due_at, c.id) AS n
    FROM (SELECT * FROM pending UNION ALL SELECT * FROM expired) c
    CROSS JOIN LATERAL (
        SELECT c.status = 'running' AND c.attempts >= c.max_attempts AS dies) d
),
picked AS (
    -- the first $3 claimable candidates, and the dying ones met before the last of them
    SELECT * FROM ranked WHERE (NOT dies AND n <= $3) OR (dies AND n < $3)
),
lost AS (
    INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome)
    SELECT id, token, lease_owner, COALESCE(started_at, $5), $5, 'lease_lost'
    FROM picked WHERE status = 'running'
),
dead AS (
    UPDATE jobs j
    SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, finished_at = $5,
        last_error = 'LeaseLost: the worker stopped heartbeating'
    WHERE j.ctid = ANY(ARRAY(SELECT ctid FROM picked WHERE dies))
    RETURNING j.schedule_id, j.last_error
),
dead_schedules AS (
    UPDATE schedules s
    SET fail_count = s.fail_count + (SELECT count(*) FROM dead d WHERE d.schedule_id = s.id),
        last_error = 'LeaseLost: the worker stopped heartbeating'
    WHERE s.id = ANY(ARRAY(SELECT schedule_id FROM dead WHERE schedule_id IS NOT NULL))
),
claimed AS (
    UPDATE jobs j
    SET status = 'running', lease_owner = $2, lease_expires_at = $4, started_at = $5,
        token = j.token + 1, attempts = j.attempts + 1,
        progress = NULL, progress_message = NULL, progress_at = NULL
    WHERE j.ctid = ANY(ARRAY(SELECT ctid FROM picked WHERE NOT dies))
    RETURNING j.*
)
SELECT l.due AS limited, c.* FROM limited l LEFT JOIN claimed c ON true
ORDER BY c.priority DESC, c.due_at, c.id;

-- name: claim_limited
-- The claim when jobs with limits are due (see claim_limited in migration 0006).
SELECT * FROM claim_limited($1::text[], $2, $3, $4, $5, $6);

-- name: heartbeat
-- (the unnest is materialized once and the status test is a join clause; see finish)
WITH r AS MATERIALIZED (
    SELECT *, 'running'::text AS expect FROM unnest($1::text[], $2::bigint[]) AS r(id, token)
)
UPDATE jobs j SET lease_expires_at = $3
FROM r
WHERE j.id = ANY($1::text[]) AND j.id = r.id AND j.token = r.token AND j.status = r.expect
  AND j.lease_expires_at > $4
RETURNING j.id;

-- name: finish
-- Many outcomes in one round trip. The token condition sits in the UPDATE's own WHERE so
-- that it is re-checked against the latest row version under concurrency; fences are
-- share-locked so the named lease cannot change hands before this commits. The attempt
-- rows go in without ON CONFLICT: an attempt number is the token of one claim, recorded
-- once (by finish, cancel or the reclaim of an expired lease, each of which ends that
-- claim); speculative insertion would cost more. r and ok are MATERIALIZED: inlined, the
-- unnest would be re-run for every job row of a nested loop (n^2 work).
WITH r AS MATERIALIZED (
    SELECT * FROM unnest(
        $1::text[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::text[],
        $7::text[], $8::text[], $9::text[], $10::bytea[], $11::text[], $12::text[],
        $13::bigint[], $17::float8[], $18::text[]
    ) AS r(id, token, outcome, status, retry_at, error_type, error_message, traceback,
           last_error, result, fence_name, fence_owner, fence_token, progress,
           progress_message)
),
fences AS (
    SELECT l.name, l.owner, l.token, l.expires_at FROM leases l
    WHERE l.name = ANY($11::text[])
    FOR SHARE
),
ok AS MATERIALIZED (
    SELECT r.*, 'running'::text AS expect FROM r
    WHERE r.fence_name IS NULL OR EXISTS (
        SELECT 1 FROM fences f
        WHERE f.name = r.fence_name AND f.owner = r.fence_owner
          AND f.token = r.fence_token AND f.expires_at > $15)
),
upd AS (
    UPDATE jobs j
    SET status = ok.status,
        due_at = COALESCE(ok.retry_at, j.due_at),
        finished_at = CASE WHEN ok.status = 'pending' THEN j.finished_at ELSE $15 END,
        last_error = ok.last_error,
        result = ok.result,
        lease_owner = NULL,
        lease_expires_at = NULL,
        worker = $14,
        -- the attempt's last progress, when the outcome carries it
        progress = CASE WHEN ok.progress IS NULL THEN j.progress ELSE ok.progress END,
        progress_message = CASE WHEN ok.progress IS NULL THEN j.progress_message
                                ELSE ok.progress_message END,
        progress_at = CASE WHEN ok.progress IS NULL THEN j.progress_at ELSE $15 END
    FROM ok
    -- The redundant ANY gives the planner a primary-key lookup (see claim). The status
    -- test is a join clause (ok.expect is 'running'): as a filter on jobs, the statistics
    -- (few running jobs) would make the planner expect one row and choose a nested loop
    -- that rescans ok for each of the 100.
    WHERE j.id = ANY($1::text[]) AND j.id = ok.id AND j.token = ok.token
      AND j.status = ok.expect
    RETURNING j.id, j.token, j.started_at, j.schedule_id, j.status, ok.outcome,
              ok.error_type, ok.error_message, ok.traceback, ok.last_error, j.concurrency_key
),
att AS (
    INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome,
                          error_type, error_message, traceback)
    SELECT id, token, $14, COALESCE(started_at, $15), $15, outcome, error_type,
           error_message, traceback
    FROM upd
    -- a success is the job's last attempt: its row holds the record (get_attempts)
    WHERE NOT (outcome = 'succeeded' AND status = 'succeeded')
),
failed_schedules AS (
    UPDATE schedules s
    SET fail_count = s.fail_count + f.n, last_error = f.last_error
    FROM (SELECT schedule_id, count(*) AS n, max(last_error) AS last_error
          FROM upd WHERE status = 'failed' AND schedule_id IS NOT NULL
          GROUP BY schedule_id) f
    WHERE s.id = ANY(ARRAY(
        SELECT schedule_id FROM upd WHERE status = 'failed' AND schedule_id IS NOT NULL))
      AND s.id = f.schedule_id
),
wake AS (
    -- a retry is pending again, or a job with a concurrency key left a slot free
    SELECT pg_notify($16, '') FROM upd
    WHERE status = 'pending' OR concurrency_key IS NOT NULL LIMIT 1
)
SELECT id, (SELECT count(*) FROM wake) AS woke FROM upd;

-- name: finish_succeeded
-- finish for the commonest batch: every outcome a success without a fence. The same update
-- as finish's for those rows (a success writes no attempts row, fails no schedule and wakes
-- no one), with two arrays to encode and join instead of thirteen. r is MATERIALIZED and the
-- status test a join clause, for the reasons given at finish.
WITH r AS MATERIALIZED (
    SELECT *, 'running'::text AS expect
    FROM unnest($1::text[], $2::bigint[], $3::bytea[]) AS r(id, token, result)
)
UPDATE jobs j
SET status = 'succeeded', finished_at = $5, last_error = NULL, result = r.result,
    lease_owner = NULL, lease_expires_at = NULL, worker = $4
FROM r
WHERE j.id = ANY($1::text[]) AND j.id = r.id AND j.token = r.token AND j.status = r.expect
-- a job with a concurrency key left a slot free: wake idle workers (each row's call is one
-- notification: PostgreSQL folds identical ones of a transaction)
RETURNING j.id, CASE WHEN j.concurrency_key IS NOT NULL THEN pg_notify($6, '') END;

-- name: set_progress
UPDATE jobs SET progress = $3, progress_message = $4, progress_at = $5
WHERE id = $1 AND token = $2 AND status = 'running'
RETURNING id;

-- name: release
-- The held claims go back to pending with their attempt given back, and each leaves an
-- attempt record (outcome 'released', number = its token) written from the row as locked.
WITH r AS MATERIALIZED (
    SELECT * FROM unnest($1::text[], $2::bigint[]) AS r(id, token)
),
held AS (
    -- a semi-join: a claim named twice in one call is released (and recorded) once
    SELECT j.ctid, j.id, j.token, j.lease_owner, j.started_at
    FROM jobs j
    WHERE j.id = ANY($1::text[]) AND j.status = 'running'
      AND EXISTS (SELECT 1 FROM r WHERE r.id = j.id AND r.token = j.token)
    FOR UPDATE
),
att AS (
    INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome)
    SELECT id, token, COALESCE(lease_owner, ''), COALESCE(started_at, $4), $4, 'released'
    FROM held
),
upd AS (
    UPDATE jobs j
    SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
        attempts = greatest(j.attempts - 1, 0)
    WHERE j.ctid = ANY(ARRAY(SELECT ctid FROM held))
    RETURNING j.id
)
SELECT count(*) AS n,
       (SELECT count(*) FROM (SELECT pg_notify($3, '') FROM upd LIMIT 1) w) AS woke
FROM upd;

-- name: get_job
SELECT * FROM jobs WHERE id = $1;

-- name: find_jobs
-- list_jobs. {where} is the conditions the filter sets, each a constant fragment of
-- _jobs.FIND_CONDITIONS with its own parameter (never user text), {order} ASC or DESC: a page
-- walks one index in id order (jobs_pkey, jobs_key, jobs_status_id, jobs_queue_id,
-- jobs_task_id or jobs_schedule) and stops after LIMIT rows.
SELECT * FROM jobs
WHERE {where}
ORDER BY id {order}
LIMIT $1;

-- name: get_attempts
-- The attempts rows, and the success a succeeded job's row records (see migration 0002;
-- rows that succeeded before it have no `worker` and their attempt in attempts).
SELECT job_id, number, worker, started_at, finished_at, outcome, error_type, error_message,
       traceback
FROM attempts WHERE job_id = $1
UNION ALL
SELECT id, token, worker, COALESCE(started_at, finished_at), finished_at, 'succeeded', NULL,
       NULL, NULL
FROM jobs WHERE id = $1 AND status = 'succeeded' AND worker IS NOT NULL
ORDER BY number;

-- name: cancel
WITH cur AS (
    SELECT id, status, token, lease_owner, started_at FROM jobs WHERE id = $1 FOR UPDATE
),
att AS (
    INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome)
    SELECT id, token, lease_owner, COALESCE(started_at, $2), $2, 'cancelled'
    FROM cur WHERE status = 'running'
),
upd AS (
    UPDATE jobs j
    SET status = 'cancelled', lease_owner = NULL, lease_expires_at = NULL, finished_at = $2
    FROM cur
    WHERE j.id = $1 AND j.id = cur.id AND cur.status IN ('pending', 'running')
    RETURNING j.*
),
wake AS (
    -- a running job with a concurrency key left a slot free
    SELECT pg_notify($3, '') FROM upd
    WHERE upd.concurrency_key IS NOT NULL AND (SELECT status FROM cur) = 'running'
)
SELECT cur.status AS old_status, upd.*, (SELECT count(*) FROM wake) AS woke
FROM cur LEFT JOIN upd ON true;

-- name: requeue
WITH cur AS (
    SELECT id, status FROM jobs WHERE id = $1 FOR UPDATE
),
upd AS (
    UPDATE jobs j
    SET status = 'pending', due_at = $2, attempts = 0, finished_at = NULL,
        lease_owner = NULL, lease_expires_at = NULL
    FROM cur
    WHERE j.id = $1 AND j.id = cur.id AND cur.status IN ('failed', 'cancelled')
    RETURNING j.*, pg_notify($3, '') AS woke
)
SELECT cur.status AS old_status, upd.* FROM cur LEFT JOIN upd ON true;

-- name: purge
-- Batches: SKIP LOCKED never waits on (or blocks) claimers and finishers.
WITH victims AS (
    SELECT id FROM jobs
    WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1
    ORDER BY finished_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
),
gone_attempts AS (
    DELETE FROM attempts WHERE job_id = ANY(ARRAY(SELECT id FROM victims))
),
gone AS (
    DELETE FROM jobs WHERE id = ANY(ARRAY(SELECT id FROM victims)) RETURNING 1
),
full_buckets AS (
    -- a rate bucket full since $1 is the same as none (see migration 0006)
    DELETE FROM rate_buckets WHERE tat <= (extract(epoch FROM $1) * 1000000)::bigint
)
SELECT count(*) FROM gone;

-- name: purge_statuses
-- purge narrowed to some final statuses ($3), in the same batches
WITH victims AS (
    SELECT id FROM jobs
    WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at < $1
      AND status = ANY($3::text[])
    ORDER BY finished_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
),
gone_attempts AS (
    DELETE FROM attempts WHERE job_id = ANY(ARRAY(SELECT id FROM victims))
),
gone AS (
    DELETE FROM jobs WHERE id = ANY(ARRAY(SELECT id FROM victims)) RETURNING 1
),
full_buckets AS (
    -- a rate bucket full since $1 is the same as none (see migration 0006)
    DELETE FROM rate_buckets WHERE tat <= (extract(epoch FROM $1) * 1000000)::bigint
)
SELECT count(*) FROM gone;

-- name: stats
SELECT queue, status, count(*) AS n FROM jobs GROUP BY queue, status;

-- name: count_delayed
-- Pending jobs due after $2 per queue of $1, from jobs_claim: one range per distinct priority
-- (a loose index scan, as next_due), so it reads the delayed entries, not every pending one.
WITH RECURSIVE prio AS (
    SELECT q.name AS queue,
           (SELECT j.priority FROM jobs j
            WHERE j.queue = q.name AND j.status = 'pending' AND j.concurrency_key IS NULL
              AND j.rate_key IS NULL
            ORDER BY j.priority DESC LIMIT 1) AS priority
    FROM unnest($1::text[]) AS q(name)
    UNION ALL
    SELECT p.queue,
           (SELECT j.priority FROM jobs j
            WHERE j.queue = p.queue AND j.status = 'pending' AND j.concurrency_key IS NULL
              AND j.rate_key IS NULL AND j.priority < p.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM prio p
    WHERE p.priority IS NOT NULL
)
SELECT q.name AS queue,
       coalesce((SELECT sum((SELECT count(*) FROM jobs j
                             WHERE j.queue = p.queue AND j.status = 'pending'
                               AND j.concurrency_key IS NULL AND j.rate_key IS NULL
                               AND j.priority = p.priority AND j.due_at > $2))
                 FROM prio p WHERE p.queue = q.name AND p.priority IS NOT NULL), 0)::bigint
       -- jobs with limits, from jobs_limited_due
       + (SELECT count(*) FROM jobs j
          WHERE j.queue = q.name AND j.status = 'pending'
            AND (j.concurrency_key IS NOT NULL OR j.rate_key IS NOT NULL) AND j.due_at > $2) AS n
FROM unnest($1::text[]) AS q(name);

-- name: next_due
-- The earliest pending due_at without an index of its own: jobs_claim is ordered by
-- priority first, so walk each queue's distinct priorities (a loose index scan: one probe
-- per priority, and there are few) and take the first due_at under each.
WITH RECURSIVE prio AS (
    SELECT q.name AS queue,
           (SELECT j.priority FROM jobs j
            WHERE j.queue = q.name AND j.status = 'pending' AND j.concurrency_key IS NULL
              AND j.rate_key IS NULL
            ORDER BY j.priority DESC LIMIT 1) AS priority
    FROM unnest($1::text[]) AS q(name)
    UNION ALL
    SELECT p.queue,
           (SELECT j.priority FROM jobs j
            WHERE j.queue = p.queue AND j.status = 'pending' AND j.concurrency_key IS NULL
              AND j.rate_key IS NULL AND j.priority < p.priority
            ORDER BY j.priority DESC LIMIT 1)
    FROM prio p
    WHERE p.priority IS NOT NULL
)
, first AS (
    SELECT min(t) AS t FROM (
        SELECT (SELECT j.due_at FROM jobs j
                WHERE j.queue = p.queue AND j.status = 'pending' AND j.concurrency_key IS NULL
                  AND j.rate_key IS NULL AND j.priority = p.priority
                ORDER BY j.priority DESC, j.due_at LIMIT 1) AS t
        FROM prio p
        WHERE p.priority IS NOT NULL
        UNION ALL
        SELECT min(lease_expires_at) FROM jobs
        WHERE lease_owner IS NOT NULL AND status = 'running' AND queue = ANY($1::text[])
    ) x
),
-- Pending jobs with limits, up to $2 per queue in due order (jobs_limited_due), grouped by
-- their limits: the caller weighs each group's earliest due time against the group's running
-- jobs and bucket (limited_next_due in rota/stores/_gate.py). `cut`: the due time of the last
-- job read in a queue that has more.
walk AS (
    SELECT q.name AS queue, l.* FROM unnest($1::text[]) AS q(name)
    CROSS JOIN LATERAL (
        SELECT j.due_at, j.concurrency_key, j.concurrency_limit, j.rate_key, j.rate_limit,
               j.rate_period
        FROM jobs j
        WHERE j.queue = q.name AND j.status = 'pending'
          AND (j.concurrency_key IS NOT NULL OR j.rate_key IS NOT NULL)
        ORDER BY j.due_at
        LIMIT $2
    ) l
),
grouped AS (
    SELECT min(due_at) AS due, concurrency_key, concurrency_limit, rate_key, rate_limit,
           rate_period
    FROM walk GROUP BY concurrency_key, concurrency_limit, rate_key, rate_limit, rate_period
)
SELECT f.t AS first,
       (SELECT min(last) FROM (SELECT max(due_at) AS last FROM walk GROUP BY queue
                               HAVING count(*) >= $2) c) AS cut,
       g.due, g.concurrency_key, g.concurrency_limit, g.rate_key, g.rate_limit, g.rate_period,
       h.n, h.expiry, b.tat
FROM first f
LEFT JOIN grouped g ON true
LEFT JOIN LATERAL (
    SELECT count(*) AS n, min(r.lease_expires_at) AS expiry FROM jobs r
    WHERE r.concurrency_key = g.concurrency_key AND r.status = 'running'
) h ON g.concurrency_key IS NOT NULL
LEFT JOIN rate_buckets b ON b.key = g.rate_key;

-- name: count_finished
-- Jobs finished in [$1, $2) per bucket (k: its number from $1; $3 the bucket in
-- microseconds, exact numeric arithmetic), queue and status, from jobs_finished: a range of
-- the finished jobs by time, never the whole table.
SELECT floor(extract(epoch FROM finished_at - $1) * 1000000 / $3)::bigint AS k, queue, status,
       count(*) AS n
FROM jobs
WHERE status IN ('succeeded', 'failed', 'cancelled') AND finished_at >= $1 AND finished_at < $2
GROUP BY k, queue, status
ORDER BY k, queue, status;
