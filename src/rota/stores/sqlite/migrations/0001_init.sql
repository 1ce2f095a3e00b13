-- rota schema, version 1. Times are integer microseconds since the Unix epoch (UTC).

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    task             TEXT NOT NULL,
    queue            TEXT NOT NULL,
    payload          BLOB NOT NULL,
    priority         INTEGER NOT NULL,
    status           TEXT NOT NULL,
    due_at           INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    attempts         INTEGER NOT NULL,
    max_attempts     INTEGER NOT NULL,
    token            INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    started_at       INTEGER,
    finished_at      INTEGER,
    key              TEXT,
    schedule_id      TEXT,
    fire_time        INTEGER,
    timeout          REAL,
    last_error       TEXT,
    result           BLOB
);

-- claim order per queue; partial, so a job leaves it when claimed. It also serves
-- next_due (a skip-scan over priorities), which spares every write a second pending index.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, due_at, id) WHERE status = 'pending';
-- expired leases per queue (reclaim, next_due)
CREATE INDEX jobs_lease ON jobs (queue, lease_expires_at) WHERE status = 'running';
-- dedupe keys are unique among retained jobs
CREATE UNIQUE INDEX jobs_key ON jobs (key) WHERE key IS NOT NULL;
-- purge; keyed on finished_at alone (not status) so that claims, which never set
-- finished_at, do not have to touch this index
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

-- job counts per queue and status, kept by the store in the same transaction as every
-- change of status (stats() would otherwise scan the whole jobs table)
CREATE TABLE job_counts (
    queue  TEXT NOT NULL,
    status TEXT NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (queue, status)
) WITHOUT ROWID;

CREATE TABLE attempts (
    job_id        TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    number        INTEGER NOT NULL,
    worker        TEXT NOT NULL,
    started_at    INTEGER NOT NULL,
    finished_at   INTEGER NOT NULL,
    outcome       TEXT NOT NULL,
    error_type    TEXT,
    error_message TEXT,
    traceback     TEXT
);

CREATE INDEX attempts_job ON attempts (job_id, number);

CREATE TABLE schedules (
    id               TEXT PRIMARY KEY,
    task             TEXT NOT NULL,
    trigger          TEXT NOT NULL,
    queue            TEXT NOT NULL,
    payload          BLOB NOT NULL,
    priority         INTEGER NOT NULL,
    misfire          TEXT NOT NULL,
    misfire_grace    REAL NOT NULL,
    max_catchup      INTEGER NOT NULL,
    jitter           REAL NOT NULL,
    overlap          TEXT NOT NULL,
    origin           TEXT NOT NULL,
    next_fire_at     INTEGER,
    last_fire_at     INTEGER,
    last_job_id      TEXT,
    run_count        INTEGER NOT NULL,
    fail_count       INTEGER NOT NULL,
    last_error       TEXT,
    paused           INTEGER NOT NULL,
    version          INTEGER NOT NULL,
    lease_owner      TEXT,
    lease_expires_at INTEGER,
    created_at       INTEGER,
    updated_at       INTEGER
) WITHOUT ROWID;

-- acquire_schedules: due and unpaused, by next fire
CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE paused = 0 AND next_fire_at IS NOT NULL;
-- next_schedule_due: a leased schedule wakes no one before its lease expires
CREATE INDEX schedules_wake ON schedules (max(next_fire_at, coalesce(lease_expires_at, 0)))
    WHERE paused = 0 AND next_fire_at IS NOT NULL;

-- named leases; a row is never deleted, so tokens only grow per name
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    token       INTEGER NOT NULL,
    acquired_at INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
) WITHOUT ROWID;
