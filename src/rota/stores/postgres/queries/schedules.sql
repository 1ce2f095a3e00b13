-- Every statement the PostgreSQL store runs, loaded by name (`-- name: x` starts a block).
-- They run with search_path set to the store's schema. Writes that must wake idle workers
-- call pg_notify in the same statement, so the notification is sent iff the write commits.
-- This file: schedules (rows are schedules.*: Schedule's fields in order).

-- name: get_schedule
SELECT * FROM schedules WHERE id = $1;

-- name: get_schedule_for_update
SELECT * FROM schedules WHERE id = $1 FOR UPDATE;

-- name: list_schedules
SELECT * FROM schedules ORDER BY id;

-- name: insert_schedule
-- A whole schedule row, in column (= field) order.
INSERT INTO schedules (id, task, trigger, queue, payload, priority, misfire, misfire_grace,
                       max_catchup, jitter, overlap, origin, next_fire_at, last_fire_at,
                       last_job_id, run_count, fail_count, last_error, paused, version,
                       lease_owner, lease_expires_at, created_at, updated_at,
                       lease_fence_name, lease_fence_token)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
        $19, $20, $21, $22, $23, $24, $25, $26)
ON CONFLICT (id) DO NOTHING
RETURNING *;

-- name: update_schedule_definition
UPDATE schedules
SET task = $2, trigger = $3, queue = $4, payload = $5, priority = $6, misfire = $7,
    misfire_grace = $8, max_catchup = $9, jitter = $10, overlap = $11, origin = $12,
    next_fire_at = CASE WHEN trigger = $3 THEN next_fire_at ELSE $13 END,
    lease_owner = NULL, lease_expires_at = NULL, lease_fence_name = NULL, lease_fence_token = NULL,
    version = version + 1, updated_at = $14
WHERE id = $1
RETURNING *;

-- name: notify
SELECT pg_notify($1, '');

-- name: remove_schedule
WITH gone AS (DELETE FROM schedules WHERE id = $1 RETURNING id)
SELECT count(*) AS n,
       (SELECT count(*) FROM (SELECT pg_notify($2, '') FROM gone) w) AS woke
FROM gone;

-- name: set_schedule_paused
UPDATE schedules
SET paused = $2,
    next_fire_at = CASE WHEN NOT $2 AND $3::timestamptz IS NOT NULL THEN $3
                        ELSE next_fire_at END,
    lease_owner = NULL, lease_expires_at = NULL, lease_fence_name = NULL, lease_fence_token = NULL,
    version = version + 1, updated_at = $4
WHERE id = $1
RETURNING *, pg_notify($5, '') AS woke;

-- name: acquire_schedules
-- With a fence ($5 not NULL): nothing unless the fence's lease is held ($5, $6, $7), and a
-- lease taken under an older term of the same election ($5, token < $7) is free at once.
WITH due AS (
    SELECT id FROM schedules
    WHERE NOT paused AND next_fire_at <= $3
      AND (lease_expires_at IS NULL OR lease_expires_at <= $3
           OR (lease_fence_name = $5 AND lease_fence_token < $7))
      AND ($5::text IS NULL OR EXISTS (
          SELECT 1 FROM leases WHERE name = $5 AND owner = $6 AND token = $7 AND expires_at > $3))
    ORDER BY next_fire_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
)
UPDATE schedules s
SET lease_owner = $1, lease_expires_at = $4, lease_fence_name = $5, lease_fence_token = $7,
    version = s.version + 1, updated_at = $3
WHERE s.id = ANY(ARRAY(SELECT id FROM due))
RETURNING s.*;

-- name: lock_schedule_for_commit
SELECT id FROM schedules WHERE id = $1 AND version = $2 AND lease_owner = $3 FOR UPDATE;

-- name: commit_schedule
UPDATE schedules
SET next_fire_at = $2, last_fire_at = $3, run_count = run_count + $4,
    last_job_id = COALESCE($5, last_job_id), lease_owner = NULL, lease_expires_at = NULL,
    lease_fence_name = NULL, lease_fence_token = NULL, version = version + 1, updated_at = $6
WHERE id = $1;

-- name: next_schedule_due
-- Unleased schedules come from the index in order; leased ones (few: in flight, or held by
-- a scheduler that died) count at their lease expiry when that is later.
SELECT min(t) FROM (
    (SELECT next_fire_at AS t FROM schedules
     WHERE NOT paused AND next_fire_at IS NOT NULL AND lease_expires_at IS NULL
     ORDER BY next_fire_at LIMIT 1)
    UNION ALL
    (SELECT greatest(next_fire_at, lease_expires_at) FROM schedules
     WHERE NOT paused AND next_fire_at IS NOT NULL AND lease_expires_at IS NOT NULL)
) x;
