-- rota schema, version 6: rate and concurrency limits, held by the claim (see Store.claim).
-- (Numbered after 5, which a change made side by side adds; the runner applies each version
-- a schema has not recorded.)
--
-- A job carries its task's limits. Pending jobs with limits leave jobs_claim for indexes of
-- their own, so the claim statement's walk never meets one (it hands the claim to
-- claim_limited below when one is due); jobs_limited_due serves next_due and stats.
-- jobs_holding counts a concurrency key's running jobs; rate_buckets keeps each rate key's
-- token bucket as GCRA's theoretical arrival time (microseconds since the epoch; a row whose
-- time has passed is a full bucket, which purge deletes).

ALTER TABLE jobs
    ADD COLUMN concurrency_key text COLLATE "C",
    ADD COLUMN concurrency_limit integer,
    ADD COLUMN rate_key text COLLATE "C",
    ADD COLUMN rate_limit integer,
    ADD COLUMN rate_period double precision;

DROP INDEX jobs_claim;
CREATE INDEX jobs_claim ON jobs (queue, priority DESC, due_at, id)
    WHERE status = 'pending' AND concurrency_key IS NULL AND rate_key IS NULL;
CREATE INDEX jobs_limited ON jobs (queue, priority DESC, due_at, id)
    WHERE status = 'pending' AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL);
CREATE INDEX jobs_limited_due ON jobs (queue, due_at)
    WHERE status = 'pending' AND (concurrency_key IS NOT NULL OR rate_key IS NOT NULL);
CREATE INDEX jobs_holding ON jobs (concurrency_key, lease_expires_at)
    WHERE status = 'running' AND concurrency_key IS NOT NULL;

CREATE TABLE rate_buckets (
    key text COLLATE "C" PRIMARY KEY,
    tat bigint NOT NULL
);
CREATE INDEX rate_buckets_tat ON rate_buckets (tat);

-- The claim when jobs with limits are due (or expired): one call, one round trip. Limited
-- claims take a transaction-scoped advisory lock of the schema first, so that the running
-- jobs they count and the buckets they read cannot change under them by another claim (the
-- claim statement never takes a job with limits); every statement below then reads what
-- was committed before it. Candidates of every kind are read a window at a time in claim
-- order: unlimited pending ones (all admissible), expired leases (their lost attempt is
-- recorded; those their limits hold back are pending again) and limited pending ones, of
-- which up to held_scan are passed over. Nothing is written until the end, where the chosen
-- rows are locked and re-checked (a row another transaction changed meanwhile drops out).
CREATE FUNCTION claim_limited(
    in_queues text[], in_worker text, in_want integer, in_until timestamptz, in_now timestamptz,
    in_held_scan integer
) RETURNS SETOF jobs LANGUAGE plpgsql AS $fn$
DECLARE
    now_us bigint := (extract(epoch FROM in_now) * 1000000)::bigint;
    need integer := in_want;
    window_size integer := in_want + 16;
    passed integer := 0;
    rounds integer := 0;
    more boolean;
    limited_rows integer;
    c record;
    n bigint;
    v_tat bigint;
    t bigint;
    start bigint;
    admit boolean;
    counts jsonb := '{}';       -- concurrency key -> jobs running (unexpired) and taken now
    tats jsonb := '{}';         -- rate key -> v_tat (null: no bucket, a full one)
    blocked text[] := '{}';     -- what held a job back: nothing changes it during the claim
    seen text[] := '{}';        -- ids decided (nothing is written until the end)
    take_ids text[] := '{}';
    die_ids text[] := '{}';
    hold_ids text[] := '{}';
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('rota.limits'), hashtext(current_schema()));
    LOOP
        rounds := rounds + 1;
        more := false;
        limited_rows := 0;
        FOR c IN
            SELECT w.* FROM (
                SELECT 'p' AS kind, j.id, j.priority, j.due_at, j.attempts, j.max_attempts,
                       NULL::text AS concurrency_key, NULL::integer AS concurrency_limit,
                       NULL::text AS rate_key, NULL::integer AS rate_limit,
                       NULL::float8 AS rate_period
                FROM unnest(in_queues) AS q(name)
                CROSS JOIN LATERAL (
                    SELECT j.id, j.priority, j.due_at, j.attempts, j.max_attempts FROM jobs j
                    WHERE j.queue = q.name AND j.status = 'pending' AND j.concurrency_key IS NULL
                      AND j.rate_key IS NULL AND j.due_at <= in_now AND NOT j.id = ANY(seen)
                    ORDER BY j.priority DESC, j.due_at, j.id
                    LIMIT need
                ) j
                UNION ALL
                (SELECT 'x', j.id, j.priority, j.due_at, j.attempts, j.max_attempts,
                        j.concurrency_key, j.concurrency_limit, j.rate_key, j.rate_limit,
                        j.rate_period
                 FROM jobs j
                 WHERE j.lease_owner IS NOT NULL AND j.lease_expires_at <= in_now
                   AND j.status = 'running' AND j.queue = ANY(in_queues) AND NOT j.id = ANY(seen)
                 ORDER BY j.priority DESC, j.due_at, j.id
                 LIMIT need + 100)
                UNION ALL
                SELECT 'l', j.id, j.priority, j.due_at, j.attempts, j.max_attempts,
                       j.concurrency_key, j.concurrency_limit, j.rate_key, j.rate_limit,
                       j.rate_period
                FROM unnest(in_queues) AS q(name)
                CROSS JOIN LATERAL (
                    SELECT * FROM jobs j
                    WHERE j.queue = q.name AND j.status = 'pending'
                      AND (j.concurrency_key IS NOT NULL OR j.rate_key IS NOT NULL)
                      AND j.due_at <= in_now AND NOT j.id = ANY(seen)
                      AND NOT (j.concurrency_key IS NOT NULL
                               AND 'c' || j.concurrency_limit || ':' || j.concurrency_key = ANY(blocked))
                      AND NOT (j.rate_key IS NOT NULL
                               AND 'r' || j.rate_limit || '/' || j.rate_period || ':' || j.rate_key
                                   = ANY(blocked))
                    ORDER BY j.priority DESC, j.due_at, j.id
                    LIMIT window_size
                ) j
            ) w
            ORDER BY w.priority DESC, w.due_at, w.id
        LOOP
            EXIT WHEN need <= 0;
            seen := seen || c.id;
            IF c.kind = 'p' THEN
                take_ids := take_ids || c.id;
                need := need - 1;
                CONTINUE;
            END IF;
            IF c.kind = 'l' THEN
                limited_rows := limited_rows + 1;
            ELSIF c.attempts >= c.max_attempts THEN
                die_ids := die_ids || c.id;  -- its lost attempt was its last
                more := true;
                CONTINUE;
            END IF;
            -- the gate (the arithmetic of rota/stores/_gate.py)
            admit := true;
            IF c.concurrency_key IS NOT NULL AND c.concurrency_limit >= 1 THEN
                IF 'c' || c.concurrency_limit || ':' || c.concurrency_key = ANY(blocked) THEN
                    admit := false;
                ELSE
                    n := (counts ->> c.concurrency_key)::bigint;
                    IF n IS NULL THEN
                        SELECT count(*) INTO n FROM jobs r
                        WHERE r.concurrency_key = c.concurrency_key AND r.status = 'running'
                          AND r.lease_expires_at > in_now;
                    END IF;
                    counts := counts || jsonb_build_object(c.concurrency_key, n);
                    IF n >= c.concurrency_limit THEN
                        blocked := blocked || ('c' || c.concurrency_limit || ':' || c.concurrency_key);
                        admit := false;
                    END IF;
                END IF;
            END IF;
            IF admit AND c.rate_key IS NOT NULL AND c.rate_limit >= 1 AND c.rate_period > 0 THEN
                IF 'r' || c.rate_limit || '/' || c.rate_period || ':' || c.rate_key = ANY(blocked) THEN
                    admit := false;
                ELSE
                    IF tats ? c.rate_key THEN
                        v_tat := (tats ->> c.rate_key)::bigint;
                    ELSE
                        SELECT b.tat INTO v_tat FROM rate_buckets b WHERE b.key = c.rate_key;
                    END IF;
                    t := greatest(1, round(c.rate_period * 1000000)::bigint / c.rate_limit);
                    start := greatest(now_us, coalesce(v_tat, now_us));
                    IF start - now_us > (c.rate_limit - 1) * t THEN
                        tats := tats || jsonb_build_object(c.rate_key, v_tat);
                        blocked := blocked
                            || ('r' || c.rate_limit || '/' || c.rate_period || ':' || c.rate_key);
                        admit := false;
                    ELSE
                        tats := tats || jsonb_build_object(c.rate_key, start + t);
                    END IF;
                END IF;
            END IF;
            IF admit THEN
                IF c.concurrency_key IS NOT NULL AND c.concurrency_limit >= 1 THEN
                    counts := counts || jsonb_build_object(c.concurrency_key, n + 1);
                END IF;
                take_ids := take_ids || c.id;
                need := need - 1;
            ELSIF c.kind = 'x' THEN
                hold_ids := hold_ids || c.id;  -- pending again, once its lost attempt is recorded
                more := true;
            ELSE
                passed := passed + 1;
            END IF;
        END LOOP;
        EXIT WHEN need <= 0 OR passed >= in_held_scan OR rounds >= 8;
        -- dead jobs freed places among the candidates read, or a window was full: read on
        EXIT WHEN NOT more AND limited_rows < window_size;
        window_size := least(window_size * 4, in_held_scan + in_want);
    END LOOP;

    INSERT INTO rate_buckets (key, tat)
    SELECT e.key, e.value::bigint FROM jsonb_each_text(tats) e
    WHERE e.value IS NOT NULL AND e.value::bigint > now_us
    ON CONFLICT (key) DO UPDATE SET tat = excluded.tat;

    RETURN QUERY
    WITH locked AS (
        SELECT j.ctid, j.id, j.status, j.token, j.lease_owner, j.started_at
        FROM jobs j
        WHERE j.id = ANY(take_ids || die_ids || hold_ids)
          AND ((j.status = 'pending' AND j.due_at <= in_now)
               OR (j.status = 'running' AND j.lease_expires_at <= in_now))
        FOR UPDATE
    ),
    lost AS (
        INSERT INTO attempts (job_id, number, worker, started_at, finished_at, outcome)
        SELECT l.id, l.token, l.lease_owner, COALESCE(l.started_at, in_now), in_now, 'lease_lost'
        FROM locked l WHERE l.status = 'running'
    ),
    dead AS (
        UPDATE jobs j
        SET status = 'failed', lease_owner = NULL, lease_expires_at = NULL, finished_at = in_now,
            last_error = 'LeaseLost: the worker stopped heartbeating'
        WHERE j.ctid = ANY(ARRAY(SELECT l.ctid FROM locked l
                                 WHERE l.status = 'running' AND l.id = ANY(die_ids)))
        RETURNING j.schedule_id
    ),
    dead_schedules AS (
        UPDATE schedules s
        SET fail_count = s.fail_count + (SELECT count(*) FROM dead d WHERE d.schedule_id = s.id),
            last_error = 'LeaseLost: the worker stopped heartbeating'
        WHERE s.id = ANY(ARRAY(SELECT d.schedule_id FROM dead d WHERE d.schedule_id IS NOT NULL))
    ),
    held AS (
        UPDATE jobs j
        SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL
        WHERE j.ctid = ANY(ARRAY(SELECT l.ctid FROM locked l
                                 WHERE l.status = 'running' AND l.id = ANY(hold_ids)))
    )
    UPDATE jobs j
    SET status = 'running', lease_owner = in_worker, lease_expires_at = in_until,
        started_at = in_now, token = j.token + 1, attempts = j.attempts + 1
    WHERE j.ctid = ANY(ARRAY(SELECT l.ctid FROM locked l WHERE l.id = ANY(take_ids)))
    RETURNING j.*;
END
$fn$;
