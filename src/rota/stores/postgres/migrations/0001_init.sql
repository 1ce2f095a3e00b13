-- rota schema, version 1. Runs with search_path set to the target schema, inside the
-- migration transaction (which holds the migration advisory lock).

-- Identifiers and names compare bytewise (COLLATE "C"): cheaper than a linguistic
-- collation in every index probe, and the order of ids is then their code-point order.
CREATE TABLE jobs (
    id               text COLLATE "C" PRIMARY KEY,
    task             text NOT NULL,
    queue            text COLLATE "C" NOT NULL,
    payload          bytea NOT NULL,
    priority         integer NOT NULL,
    status           text NOT NULL
        CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'cancelled')),
    due_at           timestamptz NOT NULL,
    created_at       timestamptz NOT NULL,
    attempts         integer NOT NULL,
    max_attempts     integer NOT NULL,
    token            bigint NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    key              text COLLATE "C",
    schedule_id      text COLLATE "C",
    fire_time        timestamptz,
    timeout          double precision,
    last_error       text,
    result           bytea
) WITH (
    -- a queue table churns: every job is updated twice and later deleted. Vacuum after a
    -- fixed number of dead rows rather than a fifth of the table, so dead index entries
    -- do not pile up in front of the claim's index walk on a big table.
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_vacuum_cost_delay = 0
);

-- The claim walks this index in claim order and stops after LIMIT rows: its cost does not
-- grow with the number of finished or future jobs outside the partial predicate.
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, due_at, id) WHERE status = 'pending';
-- Expired leases (crashed workers) are found without scanning the pending rows. The
-- predicate names lease_owner (set exactly while a job runs), not status: statements that
-- address running jobs by id (finish, heartbeat, release) then cannot pick this index over
-- the primary key; after heavy churn it holds many dead entries until vacuum.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE lease_owner IS NOT NULL;
-- No (queue, due_at) index for next_due: with one, a planner working from stale
-- statistics (a queue that just grew) picks it for the claim and sorts every due job on each
-- claim. next_due walks jobs_claim instead (see queries.sql).
-- purge: finished jobs by age.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE status IN ('succeeded', 'failed', 'cancelled');
-- dedupe keys; partial so that the (many) jobs without a key cost nothing here.
CREATE UNIQUE INDEX jobs_key ON jobs (key) WHERE key IS NOT NULL;
CREATE INDEX jobs_schedule ON jobs (schedule_id, id) WHERE schedule_id IS NOT NULL;

CREATE TABLE attempts (
    job_id        text COLLATE "C" NOT NULL,
    number        bigint NOT NULL,
    worker        text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz NOT NULL,
    outcome       text NOT NULL
        CHECK (outcome IN ('succeeded', 'failed', 'timed_out', 'lease_lost', 'cancelled')),
    error_type    text,
    error_message text,
    traceback     text,
    PRIMARY KEY (job_id, number)
);

CREATE TABLE schedules (
    id               text COLLATE "C" PRIMARY KEY,
    task             text NOT NULL,
    trigger          text NOT NULL,
    queue            text NOT NULL,
    payload          bytea NOT NULL,
    priority         integer NOT NULL,
    misfire          text NOT NULL,
    misfire_grace    double precision NOT NULL,
    max_catchup      integer NOT NULL,
    jitter           double precision NOT NULL,
    overlap          text NOT NULL,
    origin           text NOT NULL,
    next_fire_at     timestamptz,
    last_fire_at     timestamptz,
    last_job_id      text,
    run_count        bigint NOT NULL,
    fail_count       bigint NOT NULL,
    last_error       text,
    paused           boolean NOT NULL,
    version          bigint NOT NULL,
    lease_owner      text,
    lease_expires_at timestamptz,
    created_at       timestamptz,
    updated_at       timestamptz
);

CREATE INDEX schedules_due ON schedules (next_fire_at) WHERE NOT paused;

-- Named leases. Rows are never deleted: the token of a name must keep growing.
CREATE TABLE leases (
    name        text COLLATE "C" PRIMARY KEY,
    owner       text NOT NULL,
    token       bigint NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

-- next_schedule_due: the (few) leased schedules, without a scan.
CREATE INDEX schedules_leased ON schedules (lease_expires_at)
    WHERE lease_expires_at IS NOT NULL;
