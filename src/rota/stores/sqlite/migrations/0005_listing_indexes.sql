-- rota schema, version 5: the dashboard lists jobs and leases from indexes.
--
-- A page of `list_jobs` walks one of these in id order (either way) and stops after its
-- limit, so a filtered page costs the same on a million jobs as on ten (the dedupe key has
-- jobs_key). queue, task and schedule_id never change once a job is written, so their
-- entries cost an insert and a delete per job and nothing on claim or finish (SQLite updates
-- only the indexes whose columns change); status moves one entry on every claim and finish.
--
-- The first three are on `column || ''` (the same text), not on the column: only a query
-- naming that expression (list_jobs) can use them. On status itself, SQLite (which keeps no
-- statistics unless ANALYZE ran) took the index for the status tests of heartbeat, finish,
-- release and purge and walked every running or finished job instead of looking the batch's
-- ids up; the worker's statements must keep the plans they were written for.
-- Building them on a big table holds the write lock until done (writers wait, then go on).
CREATE INDEX jobs_status_id ON jobs ((status || ''), id);
CREATE INDEX jobs_queue_id ON jobs ((queue || ''), id);
CREATE INDEX jobs_task_id ON jobs ((task || ''), id);
CREATE INDEX jobs_schedule_id ON jobs (schedule_id, id) WHERE schedule_id IS NOT NULL;
-- `list_leases`: the held leases, without reading every name ever leased
CREATE INDEX leases_expiry ON leases (expires_at);
