-- rota schema, version 7: the dashboard lists jobs and leases from indexes.
--
-- A page of `list_jobs` walks one of these in id order (either way) and stops after its
-- limit, so a filtered page costs the same on a million jobs as on ten (schedule_id has
-- jobs_schedule since version 1, the dedupe key jobs_key). Every change of a job's status
-- already defeats heap-only updates (status is in the partial indexes' predicates), so each
-- of these gets one entry per write of a job: the price of listing without scans.
--
-- They are on `column || ''` (the same text), not on the column: only a query naming that
-- expression (list_jobs) can use them. On the columns, the planner (before statistics catch
-- up with a grown table) took jobs_status_id for the claim's expired-lease branch instead of
-- jobs_lease; the worker's statements must keep the plans they were written for.
-- Built inside the migration's transaction: on a big table, writes wait until it is done.
CREATE INDEX jobs_status_id ON jobs ((status || ''), id);
CREATE INDEX jobs_queue_id ON jobs ((queue || ''), id);
CREATE INDEX jobs_task_id ON jobs ((task || ''), id);
-- `list_leases`: the held leases, without reading every name ever leased
CREATE INDEX leases_expiry ON leases (expires_at);
