-- rota schema, version 8: dependencies between jobs (see Store.add, "Dependencies").
--
-- A job with parents is 'waiting': no claim index holds it (they are partial on 'pending'
-- or 'running'), so claims never read it. job_deps keeps one row per parent still to settle
-- a waiting child. When a job with dependants ends (any statement: finish, cancel, a claim
-- failing a lost lease), the trigger below deletes its rows and settles those children in
-- the same transaction: the children's rows are locked by the UPDATE, so two parents ending
-- at once are serialised on their child and the second sees the first's count (the last
-- success releases it exactly once). A child cancelled here ends too, so the trigger fires
-- again for its own dependants (transitively). Jobs without dependants (dependants = 0) pay
-- only the trigger's WHEN test on the statements that set status.
ALTER TABLE jobs
    ADD COLUMN parents jsonb,
    ADD COLUMN parents_left integer NOT NULL DEFAULT 0,
    ADD COLUMN run_after_failure boolean NOT NULL DEFAULT false,
    ADD COLUMN takes_result boolean NOT NULL DEFAULT false,
    ADD COLUMN dependants integer NOT NULL DEFAULT 0;

-- (the constraint of migration 1, which the table had since, with 'waiting' added; NOT VALID:
-- every existing row already passes the old one)
ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
    CHECK (status IN ('waiting', 'pending', 'running', 'succeeded', 'failed', 'cancelled')) NOT VALID;

CREATE TABLE job_deps (
    parent_id text COLLATE "C" NOT NULL,
    child_id  text COLLATE "C" NOT NULL,
    PRIMARY KEY (parent_id, child_id)
);

-- The same decisions as rota.stores._deps.settle.
CREATE FUNCTION settle_dependants() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
    ok boolean := NEW.status = 'succeeded';
    released integer;
BEGIN
    WITH edges AS (
        DELETE FROM job_deps WHERE parent_id = NEW.id RETURNING child_id
    ),
    settled AS (
        UPDATE jobs c
        SET parents_left = CASE WHEN ok OR c.run_after_failure
                                THEN greatest(c.parents_left - 1, 0) ELSE c.parents_left END,
            status = CASE WHEN NOT (ok OR c.run_after_failure) THEN 'cancelled'
                          WHEN c.parents_left <= 1 THEN 'pending' ELSE 'waiting' END,
            payload = CASE WHEN ok AND c.takes_result
                           THEN COALESCE(NEW.result, convert_to('null', 'UTF8')) ELSE c.payload END,
            finished_at = CASE WHEN ok OR c.run_after_failure THEN c.finished_at
                               ELSE NEW.finished_at END,
            last_error = CASE WHEN ok OR c.run_after_failure THEN c.last_error
                              ELSE 'DependencyFailed: parent job ' || NEW.id || ' ' || NEW.status END
        FROM edges
        WHERE c.id = edges.child_id AND c.status = 'waiting'
        RETURNING c.status
    )
    SELECT count(*) INTO released FROM settled WHERE status = 'pending';
    IF released > 0 THEN
        -- the jobs channel of this schema (PostgresConnection.jobs_channel)
        PERFORM pg_notify('rota.' || current_schema() || '.jobs', '');
    END IF;
    RETURN NULL;
END
$fn$;

CREATE TRIGGER jobs_settle_dependants
    AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (NEW.dependants > 0 AND NEW.status IN ('succeeded', 'failed', 'cancelled')
          AND OLD.status NOT IN ('succeeded', 'failed', 'cancelled'))
    EXECUTE FUNCTION settle_dependants();
