-- Live workers, loaded by name. A row is a WorkerInfo's fields in order (see _codec.py).

-- name: register_worker
INSERT INTO workers (id, host, pid, queues, concurrency, running, version, started_at,
                     last_heartbeat, expires_at)
VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7, $8, $9, $10)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, queues = excluded.queues,
    concurrency = excluded.concurrency, running = excluded.running, version = excluded.version,
    started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat,
    expires_at = excluded.expires_at;

-- name: live_workers
-- The expired entries are deleted in the same statement (the table holds a row per worker,
-- so this stays small); the live ones are the rows it did not delete.
WITH gone AS (
    DELETE FROM workers WHERE expires_at <= $1 RETURNING id
)
SELECT * FROM workers WHERE expires_at > $1 ORDER BY id;

-- name: unregister_worker
DELETE FROM workers WHERE id = $1 RETURNING id;
