-- rota schema, version 3: what a job carries and reports, and the live workers.
--
-- jobs.headers: the job's metadata as a JSON object of text (the W3C trace context of the
-- span that enqueued it). jobs.progress, progress_message, progress_at: what the running
-- attempt last reported (a claim clears them). Appended, like every column, in the field
-- order of Job.

ALTER TABLE jobs ADD COLUMN headers TEXT;
ALTER TABLE jobs ADD COLUMN progress REAL;
ALTER TABLE jobs ADD COLUMN progress_message TEXT;
ALTER TABLE jobs ADD COLUMN progress_at INTEGER;

-- one row per live worker, refreshed with its heartbeats; rows whose expires_at has passed
-- are not listed and are deleted by the next listing
CREATE TABLE workers (
    id             TEXT PRIMARY KEY,
    host           TEXT NOT NULL,
    pid            INTEGER NOT NULL,
    queues         TEXT NOT NULL,
    concurrency    INTEGER NOT NULL,
    running        INTEGER NOT NULL,
    version        TEXT NOT NULL,
    started_at     INTEGER NOT NULL,
    last_heartbeat INTEGER,
    expires_at     INTEGER
) WITHOUT ROWID;
