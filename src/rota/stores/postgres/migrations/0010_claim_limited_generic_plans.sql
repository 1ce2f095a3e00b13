-- rota schema, version 10: claim_limited (migration 6) plans its statements once per session.
--
-- PL/pgSQL caches a plan per statement but, by default, plans the first five runs for their
-- arguments and keeps doing so while that looks cheaper than a generic plan; the statements
-- of claim_limited are only ever index walks in claim order (a few rows each), and planning
-- them on every call cost several times their execution (a claim of 16 jobs with limits
-- that do not bind: about 3 ms planning and running, 0.6 ms with generic plans).
ALTER FUNCTION claim_limited(text[], text, integer, timestamptz, timestamptz, integer)
    SET plan_cache_mode = force_generic_plan;
