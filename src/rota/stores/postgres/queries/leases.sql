-- Every statement the PostgreSQL store runs, loaded by name (`-- name: x` starts a block).
-- They run with search_path set to the store's schema. Writes that must wake idle workers
-- call pg_notify in the same statement, so the notification is sent iff the write commits.
-- This file: named leases (rows are leases.*: Lease's fields in order).

-- name: acquire_lease
INSERT INTO leases AS l (name, owner, token, acquired_at, expires_at)
VALUES ($1, $2, 1, $3, $4)
ON CONFLICT (name) DO UPDATE
SET owner = EXCLUDED.owner, token = l.token + 1, acquired_at = EXCLUDED.acquired_at,
    expires_at = EXCLUDED.expires_at
WHERE l.expires_at <= $3
RETURNING *;

-- name: renew_lease
UPDATE leases SET expires_at = $5
WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $4
RETURNING *;

-- name: release_lease
UPDATE leases SET expires_at = $4
WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $4
RETURNING name;

-- name: get_lease
SELECT * FROM leases WHERE name = $1 AND expires_at > $2;

-- name: lock_fence
SELECT 1 FROM leases
WHERE name = $1 AND owner = $2 AND token = $3 AND expires_at > $4
FOR SHARE;

-- name: list_leases
-- The leases held at $1, from leases_expiry (released and expired names are not read).
SELECT * FROM leases WHERE expires_at > $1 ORDER BY name;
