-- rota schema, version 5: what a job carries and reports, and the live workers.
--
-- jobs.headers: the job's metadata, a JSON object of text (the W3C trace context of the span
-- that enqueued it). jobs.progress, progress_message, progress_at: what the running attempt
-- last reported (a claim clears them). They follow `worker` (version 2), which is no field
-- of Job: the codec decodes jobs.* by the table's column order (postgres/_codec.py).
ALTER TABLE jobs
    ADD COLUMN headers jsonb,
    ADD COLUMN progress double precision,
    ADD COLUMN progress_message text,
    ADD COLUMN progress_at timestamptz;

-- One row per live worker, refreshed with its heartbeats; rows whose expires_at has passed
-- are not listed, and the listing deletes them.
CREATE TABLE workers (
    id             text COLLATE "C" PRIMARY KEY,
    host           text NOT NULL,
    pid            bigint NOT NULL,
    queues         jsonb NOT NULL,
    concurrency    bigint NOT NULL,
    running        bigint NOT NULL,
    version        text NOT NULL,
    started_at     timestamptz NOT NULL,
    last_heartbeat timestamptz,
    expires_at     timestamptz
);
