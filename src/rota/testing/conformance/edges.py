"""The edges of the contract (stores/base.py, "Edges"): a store that is not open, invalid
arguments, and calls that ask for nothing. Every store behaves the same here, because the
checks are made by ``Store`` itself before any backend code runs; these tests keep it so."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

import pytest

from rota._errors import ConfigError, InvalidState, StoreClosed
from rota._models import (
    Fence,
    Finish,
    FireCommit,
    JobFilter,
    JobStatus,
    LeaseRef,
    Outcome,
    Progress,
    WorkerInfo,
)
from rota.stores.base import Store
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import LEASE, add, make_job, make_schedule, run_to_end

Call = Callable[[], Awaitable[object]]
# what works in any state, open or not
_ANY_STATE = {"open", "close", "migrate", "wait_for_jobs", "wait_for_schedules", "wait_reconnected"}


def every_call(h: Harness, store: Store) -> dict[str, Call]:
    """One well-formed call of each job, schedule and lease method of ``store``."""
    now = h.clock.now()
    job = make_job(h)
    ref = LeaseRef(job.id, 1)
    schedule = make_schedule(h, "s")
    commit = FireCommit("s", 1, "o", (), None, now)
    worker = WorkerInfo("w", "host", 1, ("default",), 1, 0, "0", now)
    return {
        "add": lambda: store.add([job], now=now),
        "claim": lambda: store.claim(queues=["default"], worker="w", limit=1, lease_for=LEASE, now=now),
        "heartbeat": lambda: store.heartbeat([ref], lease_for=LEASE, now=now),
        "finish": lambda: store.finish([Finish(job.id, 1, Outcome.SUCCEEDED)], worker="w", now=now),
        "release": lambda: store.release([ref], now=now),
        "get_job": lambda: store.get_job(job.id),
        "list_jobs": lambda: store.list_jobs(JobFilter()),
        "get_attempts": lambda: store.get_attempts(job.id),
        "cancel": lambda: store.cancel(job.id, now=now),
        "requeue": lambda: store.requeue(job.id, now=now),
        "purge": lambda: store.purge(finished_before=now),
        "stats": lambda: store.stats(now=now),
        "next_due": lambda: store.next_due(queues=["default"]),
        "put_schedule": lambda: store.put_schedule(schedule, now=now),
        "get_schedule": lambda: store.get_schedule("s"),
        "list_schedules": store.list_schedules,
        "remove_schedule": lambda: store.remove_schedule("s"),
        "set_schedule_paused": lambda: store.set_schedule_paused("s", True, next_fire_at=None, now=now),
        "acquire_schedules": lambda: store.acquire_schedules(owner="o", limit=1, lease_for=LEASE, now=now),
        "commit_fires": lambda: store.commit_fires(commit, now=now),
        "next_schedule_due": store.next_schedule_due,
        "acquire_lease": lambda: store.acquire_lease("l", owner="o", ttl=LEASE, now=now),
        "renew_lease": lambda: store.renew_lease("l", owner="o", token=1, ttl=LEASE, now=now),
        "release_lease": lambda: store.release_lease("l", owner="o", token=1, now=now),
        "get_lease": lambda: store.get_lease("l", now=now),
        "set_progress": lambda: store.set_progress(ref, Progress(0.5), now=now),
        "register_worker": lambda: store.register_worker(worker, ttl=LEASE, now=now),
        "list_workers": lambda: store.list_workers(now=now),
        "unregister_worker": lambda: store.unregister_worker("w"),
        "list_leases": lambda: store.list_leases(now=now),
        "count_finished": lambda: store.count_finished(since=now, until=now + LEASE, bucket=LEASE),
    }


def _data_methods() -> set[str]:
    return {
        name
        for name, member in inspect.getmembers(Store, inspect.iscoroutinefunction)
        if not name.startswith("_") and name not in _ANY_STATE
    }


async def _refused(call: Call, error: type[Exception]) -> None:
    with pytest.raises(error):
        await call()


class Edges:
    async def test_every_call_covers_every_method_of_the_contract(self, harness: Harness) -> None:
        assert set(every_call(harness, harness.store)) == _data_methods()

    async def test_a_store_never_opened_raises_store_closed_and_waits_still_work(
        self, harness: Harness
    ) -> None:
        if harness.unopened is None:
            pytest.skip("the harness builds no unopened store")
        store = harness.unopened()
        try:
            for call in every_call(harness, store).values():
                with pytest.raises(StoreClosed, match="not open"):
                    await call()
            assert store.describe()
            assert await store.wait_for_jobs(0) in (True, False)
            assert await store.wait_for_schedules(0) in (True, False)
        finally:
            await store.close()

    async def test_a_closed_store_raises_store_closed_and_opened_again_has_its_data(
        self, harness: Harness
    ) -> None:
        store = harness.store
        (job,) = await add(harness, make_job(harness))
        await store.close()
        await store.close()  # idempotent
        for call in every_call(harness, store).values():
            await _refused(call, StoreClosed)
        assert await store.wait_for_jobs(0) in (True, False)
        await store.open()
        await store.open()  # idempotent
        assert await store.get_job(job.id) == job

    async def test_naive_or_missing_times_are_config_errors(self, harness: Harness) -> None:
        store = harness.store
        naive = datetime(2030, 1, 1)  # noqa: DTZ001 - naive on purpose
        job = make_job(harness)
        await add(harness, job)
        calls: list[Call] = [
            lambda: store.add([make_job(harness)], now=naive),
            lambda: store.claim(queues=["default"], worker="w", limit=1, lease_for=LEASE, now=naive),
            lambda: store.heartbeat([LeaseRef(job.id, 1)], lease_for=LEASE, now=naive),
            lambda: store.finish([Finish(job.id, 1, Outcome.SUCCEEDED)], worker="w", now=naive),
            lambda: store.release([LeaseRef(job.id, 1)], now=naive),
            lambda: store.cancel(job.id, now=naive),
            lambda: store.purge(finished_before=naive),
            lambda: store.stats(now=naive),
            lambda: store.put_schedule(make_schedule(harness, "s"), now=naive),
            lambda: store.set_schedule_paused("s", False, next_fire_at=naive, now=harness.clock.now()),
            lambda: store.acquire_lease("l", owner="o", ttl=LEASE, now=naive),
            lambda: store.get_lease("l", now="2030-01-01"),  # type: ignore[arg-type]
        ]
        for call in calls:
            await _refused(call, ConfigError)
        assert await store.get_job(job.id) == job
        assert await store.list_schedules() == []
        assert await store.get_lease("l", now=harness.clock.now()) is None

    async def test_lease_lengths_must_be_positive(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        job = make_job(harness)
        await add(harness, job)
        for length in (timedelta(0), timedelta(seconds=-1), 30):
            bad: timedelta = length  # type: ignore[assignment]
            await _refused(
                lambda: store.claim(queues=["default"], worker="w", limit=1, lease_for=bad, now=now),
                ConfigError,
            )
            await _refused(
                lambda: store.heartbeat([LeaseRef(job.id, 1)], lease_for=bad, now=now), ConfigError
            )
            await _refused(
                lambda: store.acquire_schedules(owner="o", limit=1, lease_for=bad, now=now), ConfigError
            )
            await _refused(lambda: store.acquire_lease("l", owner="o", ttl=bad, now=now), ConfigError)
            await _refused(lambda: store.renew_lease("l", owner="o", token=1, ttl=bad, now=now), ConfigError)
        assert await store.get_job(job.id) == job  # not claimed
        assert await store.get_lease("l", now=now) is None

    async def test_limits_are_whole_numbers_of_zero_or_more(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        job = make_job(harness)
        await add(harness, job)
        for limit in (-1, True, 1.5, "1"):
            bad: int = limit  # type: ignore[assignment]
            await _refused(
                lambda: store.claim(queues=["default"], worker="w", limit=bad, lease_for=LEASE, now=now),
                ConfigError,
            )
            await _refused(
                lambda: store.acquire_schedules(owner="o", limit=bad, lease_for=LEASE, now=now), ConfigError
            )
            await _refused(lambda: store.purge(finished_before=now, limit=bad), ConfigError)
            await _refused(lambda: store.list_jobs(JobFilter(limit=bad)), ConfigError)
        assert await store.get_job(job.id) == job

    async def test_purge_statuses_must_be_job_statuses(self, harness: Harness) -> None:
        done = await run_to_end(harness, make_job(harness))
        await harness.clock.advance(1)
        for statuses in (["bogus"], [None], 5):
            bad: list[JobStatus] = statuses  # type: ignore[assignment]
            await _refused(
                lambda: harness.store.purge(finished_before=harness.clock.now(), statuses=bad), ConfigError
            )
        assert await harness.store.get_job(done.id) == done

    async def test_names_must_be_non_empty_text(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        job = make_job(harness)
        await add(harness, job)
        for name in ("", None, 7):
            bad: str = name  # type: ignore[assignment]
            await _refused(
                lambda: store.claim(queues=["default"], worker=bad, limit=1, lease_for=LEASE, now=now),
                ConfigError,
            )
            await _refused(
                lambda: store.claim(queues=[bad], worker="w", limit=1, lease_for=LEASE, now=now), ConfigError
            )
            await _refused(
                lambda: store.finish([Finish(job.id, 1, Outcome.SUCCEEDED)], worker=bad, now=now), ConfigError
            )
            await _refused(
                lambda: store.acquire_schedules(owner=bad, limit=1, lease_for=LEASE, now=now), ConfigError
            )
            await _refused(lambda: store.acquire_lease(bad, owner="o", ttl=LEASE, now=now), ConfigError)
            await _refused(lambda: store.acquire_lease("l", owner=bad, ttl=LEASE, now=now), ConfigError)
        assert await store.get_job(job.id) == job
        assert await store.get_lease("l", now=now) is None

    async def test_jobs_to_add_are_checked_before_anything_is_written(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        good = make_job(harness)
        running = make_job(harness).replace(status=JobStatus.RUNNING)
        undue = make_job(harness).replace(due_at=None)
        await _refused(lambda: store.add([good, running], now=now), InvalidState)
        await _refused(lambda: store.add([good, undue], now=now), ConfigError)
        await _refused(lambda: store.add([good, make_job(harness, job_id=good.id)], now=now), InvalidState)
        await store.put_schedule(make_schedule(harness, "s"), now=now)
        (leased,) = await store.acquire_schedules(owner="o", limit=1, lease_for=LEASE, now=now)
        commit = FireCommit("s", leased.version, "o", (good, running), None, now)
        await _refused(lambda: store.commit_fires(commit, now=now), InvalidState)
        assert await store.get_job(good.id) is None
        assert await store.list_jobs(JobFilter()) == []
        assert await store.get_schedule("s") == leased  # the commit wrote nothing

    async def test_a_job_without_created_at_is_created_now(self, harness: Harness) -> None:
        job = make_job(harness).replace(created_at=None)
        await harness.clock.advance(5)
        (result,) = await harness.store.add([job], now=harness.clock.now())
        assert result.created
        stored = await harness.store.get_job(job.id)
        assert stored is not None
        assert stored.created_at == harness.clock.now()

    async def test_asking_for_nothing_gets_nothing(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        job = make_job(harness)
        await add(harness, job)
        await store.acquire_lease("lead", owner="o", ttl=LEASE, now=now)
        await store.put_schedule(make_schedule(harness, "s"), now=now)
        assert await store.claim(queues=["default"], worker="w", limit=0, lease_for=LEASE, now=now) == []
        assert await store.claim(queues=[], worker="w", limit=5, lease_for=LEASE, now=now) == []
        assert await store.heartbeat([], lease_for=LEASE, now=now) == []
        assert await store.finish([], worker="w", now=now) == []
        assert await store.release([], now=now) == 0
        assert await store.list_jobs(JobFilter(limit=0)) == []
        assert await store.purge(finished_before=now + LEASE, limit=0) == 0
        assert await store.next_due(queues=[]) is None
        fence = Fence("lead", "o", 1)
        assert await store.acquire_schedules(owner="o", limit=0, lease_for=LEASE, now=now, fence=fence) == []
        assert await store.get_job(job.id) == job
        stored = await store.get_schedule("s")
        assert stored is not None
        assert stored.lease_owner is None
