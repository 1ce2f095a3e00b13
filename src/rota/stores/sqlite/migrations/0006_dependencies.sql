-- rota schema, version 6: dependencies between jobs (see Store.add, "Dependencies").
--
-- A job with parents is 'waiting' (no claim index holds it: every claim index is partial on
-- status 'pending' or 'running') until its parents end. job_deps keeps one row per parent
-- still to settle a waiting child: a parent's end deletes its rows and settles those
-- children in the same write transaction, so each edge settles once. dependants tells
-- finish and cancel whether a job has rows here at all (most jobs have none).
ALTER TABLE jobs ADD COLUMN parents TEXT;
ALTER TABLE jobs ADD COLUMN parents_left INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN run_after_failure INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN takes_result INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN dependants INTEGER NOT NULL DEFAULT 0;

CREATE TABLE job_deps (
    parent_id TEXT NOT NULL,
    child_id  TEXT NOT NULL,
    PRIMARY KEY (parent_id, child_id)
) WITHOUT ROWID;
