"""The documented input limits (``rota._limits``, docs/limits.md) hold in every store, and
purge narrows to the statuses asked for."""

from __future__ import annotations

from datetime import timedelta

from rota._limits import (
    DEFAULT_MAX_PAYLOAD_BYTES,
    EARLIEST,
    LATEST,
    MAX_NAME_LENGTH,
    PRIORITY_MAX,
    PRIORITY_MIN,
)
from rota._models import Finish, JobStatus, Outcome
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import add, claim, make_job, run_to_end


class Limits:
    async def test_priority_extremes_round_trip_and_claim_in_order(self, harness: Harness) -> None:
        low = make_job(harness, priority=PRIORITY_MIN)
        mid = make_job(harness, priority=0)
        high = make_job(harness, priority=PRIORITY_MAX)
        await add(harness, low, mid, high)
        for job in (low, mid, high):
            assert await harness.store.get_job(job.id) == job
        claimed = await claim(harness, limit=3)
        assert [j.id for j in claimed] == [high.id, mid.id, low.id]
        assert [j.priority for j in claimed] == [PRIORITY_MAX, 0, PRIORITY_MIN]

    async def test_due_time_extremes_round_trip(self, harness: Harness) -> None:
        first = make_job(harness).replace(due_at=EARLIEST)
        last = make_job(harness).replace(due_at=LATEST - timedelta(seconds=1))
        await add(harness, first, last)
        assert await harness.store.get_job(first.id) == first
        assert await harness.store.get_job(last.id) == last
        assert await harness.store.next_due(queues=["default"]) == EARLIEST
        assert [j.id for j in await claim(harness, limit=2)] == [first.id]

    async def test_longest_names_in_any_script_round_trip(self, harness: Harness) -> None:
        # non-ASCII text of the longest allowed length, up to 4 bytes a character in UTF-8
        queue = ("q-é-日本-🙂" * 40)[:MAX_NAME_LENGTH]
        key = ("k-ß-🙂" * 60)[:MAX_NAME_LENGTH]
        task = ("t.Ω" * 80)[:MAX_NAME_LENGTH]
        job = make_job(harness, queue=queue, key=key, task=task)
        await add(harness, job)
        assert await harness.store.get_job(job.id) == job
        [claimed] = await claim(harness, queues=(queue,))
        assert (claimed.id, claimed.queue, claimed.key, claimed.task) == (job.id, queue, key, task)

    async def test_a_payload_of_the_default_limit_round_trips(self, harness: Harness) -> None:
        body = b'"' + b"x" * (DEFAULT_MAX_PAYLOAD_BYTES - 2) + b'"'
        job = make_job(harness, payload=body)
        await add(harness, job)
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.payload == body

    async def test_purge_narrowed_to_statuses(self, harness: Harness) -> None:
        done = await run_to_end(harness, make_job(harness, queue="a"))
        dead = await run_to_end(harness, make_job(harness, queue="b"), Outcome.FAILED)
        pending = make_job(harness, queue="c")
        await add(harness, pending)
        await harness.clock.advance(10)
        now = harness.clock.now()
        store = harness.store
        assert await store.purge(finished_before=now, statuses=[]) == 0
        assert await store.purge(finished_before=now, statuses=[JobStatus.PENDING]) == 0
        assert await store.purge(finished_before=now, statuses=[JobStatus.CANCELLED]) == 0
        assert await store.purge(finished_before=now, statuses=[JobStatus.FAILED]) == 1
        assert await store.get_job(dead.id) is None
        assert await store.get_job(done.id) == done
        assert await store.get_job(pending.id) == pending
        stats = await store.stats()
        assert stats.counts.get("b", {}).get(JobStatus.FAILED, 0) == 0
        assert stats.counts["a"][JobStatus.SUCCEEDED] == 1
        assert await store.purge(finished_before=now, statuses={JobStatus.SUCCEEDED, JobStatus.FAILED}) == 1
        assert await store.get_job(done.id) is None
        assert await store.get_job(pending.id) == pending

    async def test_purge_by_status_passes_over_older_jobs_of_other_statuses(self, harness: Harness) -> None:
        kept = [make_job(harness) for _ in range(12)]
        await add(harness, *kept)
        claimed = await claim(harness, limit=len(kept))
        now = harness.clock.now()
        finishes = [Finish(j.id, j.token, Outcome.SUCCEEDED) for j in claimed]
        assert all(await harness.store.finish(finishes, worker="w1", now=now))
        await harness.clock.advance(1)
        dead = await run_to_end(harness, make_job(harness), Outcome.FAILED)
        await harness.clock.advance(1)
        now = harness.clock.now()
        assert await harness.store.purge(finished_before=now, statuses=[JobStatus.FAILED]) == 1
        assert await harness.store.get_job(dead.id) is None
        assert await harness.store.purge(finished_before=now, limit=5000) == len(kept)
