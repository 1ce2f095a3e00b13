-- Schedule queries, loaded by name. Every "schedule row" has the columns in the field
-- order of Schedule (see _codec.py). Times are integer microseconds since the epoch.

-- name: get_schedule
SELECT id, task, trigger, queue, payload, priority, misfire, misfire_grace, max_catchup,
       jitter, overlap, origin, next_fire_at, last_fire_at, last_job_id, run_count,
       fail_count, last_error, paused, version, lease_owner, lease_expires_at, created_at,
       updated_at, lease_fence_name, lease_fence_token
FROM schedules WHERE id = ?;

-- name: list_schedules
SELECT id, task, trigger, queue, payload, priority, misfire, misfire_grace, max_catchup,
       jitter, overlap, origin, next_fire_at, last_fire_at, last_job_id, run_count,
       fail_count, last_error, paused, version, lease_owner, lease_expires_at, created_at,
       updated_at, lease_fence_name, lease_fence_token
FROM schedules ORDER BY id;

-- name: insert_schedule
INSERT INTO schedules (
    id, task, trigger, queue, payload, priority, misfire, misfire_grace, max_catchup,
    jitter, overlap, origin, next_fire_at, last_fire_at, last_job_id, run_count,
    fail_count, last_error, paused, version, lease_owner, lease_expires_at, created_at,
    updated_at, lease_fence_name, lease_fence_token
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: update_definition
UPDATE schedules
SET task = :task, trigger = :trigger, queue = :queue, payload = :payload,
    priority = :priority, misfire = :misfire, misfire_grace = :misfire_grace,
    max_catchup = :max_catchup, jitter = :jitter, overlap = :overlap, origin = :origin,
    next_fire_at = CASE WHEN :trigger_changed THEN :next_fire_at ELSE next_fire_at END,
    lease_owner = NULL, lease_expires_at = NULL, lease_fence_name = NULL,
    lease_fence_token = NULL, version = version + 1, updated_at = :now
WHERE id = :id
RETURNING id, task, trigger, queue, payload, priority, misfire, misfire_grace, max_catchup,
          jitter, overlap, origin, next_fire_at, last_fire_at, last_job_id, run_count,
          fail_count, last_error, paused, version, lease_owner, lease_expires_at, created_at,
          updated_at, lease_fence_name, lease_fence_token;

-- name: remove_schedule
DELETE FROM schedules WHERE id = ?;

-- name: set_paused
UPDATE schedules
SET paused = :paused,
    next_fire_at = CASE WHEN :replace_next THEN :next_fire_at ELSE next_fire_at END,
    lease_owner = NULL, lease_expires_at = NULL, lease_fence_name = NULL,
    lease_fence_token = NULL, version = version + 1, updated_at = :now
WHERE id = :id
RETURNING id, task, trigger, queue, payload, priority, misfire, misfire_grace, max_catchup,
          jitter, overlap, origin, next_fire_at, last_fire_at, last_job_id, run_count,
          fail_count, last_error, paused, version, lease_owner, lease_expires_at, created_at,
          updated_at, lease_fence_name, lease_fence_token;

-- name: acquire_schedules
-- With a fence (:fence_name not NULL; the caller checked it is held, in this transaction),
-- a lease taken under an older term of the same election is free at once.
UPDATE schedules
SET lease_owner = :owner, lease_expires_at = :expires, lease_fence_name = :fence_name,
    lease_fence_token = :fence_token, version = version + 1
WHERE id IN (
    SELECT id FROM schedules
    WHERE paused = 0 AND next_fire_at IS NOT NULL AND next_fire_at <= :now
      AND (lease_expires_at IS NULL OR lease_expires_at <= :now
           OR (lease_fence_name = :fence_name AND lease_fence_token < :fence_token))
    ORDER BY next_fire_at
    LIMIT :limit
)
RETURNING id, task, trigger, queue, payload, priority, misfire, misfire_grace, max_catchup,
          jitter, overlap, origin, next_fire_at, last_fire_at, last_job_id, run_count,
          fail_count, last_error, paused, version, lease_owner, lease_expires_at, created_at,
          updated_at, lease_fence_name, lease_fence_token;

-- name: commit_check
SELECT 1 FROM schedules WHERE id = :id AND version = :version AND lease_owner = :owner;

-- name: commit_fires
UPDATE schedules
SET next_fire_at = :next_fire_at, last_fire_at = :last_fire_at,
    run_count = run_count + :created, last_job_id = coalesce(:last_job_id, last_job_id),
    lease_owner = NULL, lease_expires_at = NULL, lease_fence_name = NULL,
    lease_fence_token = NULL, version = version + 1, updated_at = :now
WHERE id = :id;

-- name: next_schedule_due
-- Matches the expression index schedules_wake, so this reads one index entry.
SELECT max(next_fire_at, coalesce(lease_expires_at, 0)) FROM schedules
WHERE paused = 0 AND next_fire_at IS NOT NULL
ORDER BY max(next_fire_at, coalesce(lease_expires_at, 0))
LIMIT 1;
