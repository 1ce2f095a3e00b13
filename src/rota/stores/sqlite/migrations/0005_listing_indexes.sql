-- rota schema, version 5: the dashboard lists jobs and leases from indexes.
--
-- A page of `list_jobs` walks one of these in id order (either way) and stops after its
-- limit, so a filtered page costs the same on a million jobs as on ten. queue, task and
-- schedule_id never change once a job is written, so their indexes cost an insert and a
-- delete per job, nothing on claim or finish (SQLite updates only the indexes whose columns
-- change); status changes on every claim and finish: one index entry moved each time.
-- Building them on a big table holds the write lock until done (writers wait, then go on).
CREATE INDEX jobs_status_id ON jobs (status, id);
CREATE INDEX jobs_queue_id ON jobs (queue, id);
CREATE INDEX jobs_task_id ON jobs (task, id);
CREATE INDEX jobs_schedule_id ON jobs (schedule_id, id) WHERE schedule_id IS NOT NULL;
-- `list_leases`: the held leases, without reading every name ever leased
CREATE INDEX leases_expiry ON leases (expires_at);
