-- Live workers, loaded by name. A row is a WorkerInfo's fields in order (see _codec.py).

-- name: register_worker
INSERT INTO workers (
    id, host, pid, queues, concurrency, running, version, started_at, last_heartbeat, expires_at
) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET
    host = excluded.host, pid = excluded.pid, queues = excluded.queues,
    concurrency = excluded.concurrency, running = excluded.running, version = excluded.version,
    started_at = excluded.started_at, last_heartbeat = excluded.last_heartbeat,
    expires_at = excluded.expires_at;

-- name: any_expired
SELECT 1 FROM workers WHERE expires_at <= ? LIMIT 1;

-- name: delete_expired
DELETE FROM workers WHERE expires_at <= ?;

-- name: live_workers
SELECT id, host, pid, queues, concurrency, running, version, started_at, last_heartbeat,
       expires_at
FROM workers WHERE expires_at > ? ORDER BY id;

-- name: unregister_worker
DELETE FROM workers WHERE id = ?;
