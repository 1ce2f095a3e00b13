-- Named-lease queries, loaded by name. Every "lease row" has the columns in the field order
-- of Lease. Times are integer microseconds since the epoch.

-- name: acquire_lease
INSERT INTO leases (name, owner, token, acquired_at, expires_at)
VALUES (:name, :owner, 1, :now, :expires)
ON CONFLICT (name) DO UPDATE
SET owner = excluded.owner, token = leases.token + 1, acquired_at = excluded.acquired_at,
    expires_at = excluded.expires_at
WHERE leases.expires_at <= excluded.acquired_at
RETURNING name, owner, token, acquired_at, expires_at;

-- name: renew_lease
UPDATE leases SET expires_at = :expires
WHERE name = :name AND owner = :owner AND token = :token AND expires_at > :now
RETURNING name, owner, token, acquired_at, expires_at;

-- name: release_lease
UPDATE leases SET expires_at = :now
WHERE name = :name AND owner = :owner AND token = :token AND expires_at > :now;

-- name: get_lease
SELECT name, owner, token, acquired_at, expires_at FROM leases
WHERE name = ? AND expires_at > ?;

-- name: fence_held
SELECT 1 FROM leases
WHERE name = ? AND owner = ? AND token = ? AND expires_at > ?;

-- name: list_leases
-- The leases held at :now, from leases_expiry (released and expired names are not read).
SELECT name, owner, token, acquired_at, expires_at FROM leases INDEXED BY leases_expiry
WHERE expires_at > :now
ORDER BY name;
