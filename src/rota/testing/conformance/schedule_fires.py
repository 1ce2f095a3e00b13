"""The scheduler's side: acquiring due schedules and committing their fires exactly once."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from rota._models import Fence, FireCommit, Job, JobFilter, Schedule, schedule_key
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import LEASE, make_job, make_schedule, sec


def fire_job(h: Harness, schedule: Schedule, fire_time: datetime) -> Job:
    key = schedule_key(schedule.id, fire_time)
    job = make_job(h, key=key, schedule_id=schedule.id, fire_time=fire_time, task=schedule.task)
    return job.replace(due_at=fire_time)


async def acquire(
    h: Harness,
    owner: str = "o",
    *,
    limit: int = 10,
    lease_for: timedelta = LEASE,
    fence: Fence | None = None,
) -> list[Schedule]:
    return await h.store.acquire_schedules(
        owner=owner, limit=limit, lease_for=lease_for, now=h.clock.now(), fence=fence
    )


async def elect(h: Harness, owner: str, *, ttl: float = 10, name: str = "leader:s") -> Fence:
    """Take the named lease ``name`` as ``owner``; its fence (a leader's term)."""
    lease = await h.store.acquire_lease(name, owner=owner, ttl=sec(ttl), now=h.clock.now())
    assert lease is not None, f"{name} is held"
    return Fence(name, owner, lease.token)


class ScheduleFires:
    async def test_acquire_leases_only_due_unpaused_unleased_schedules(self, harness: Harness) -> None:
        now = harness.clock.now()
        for s in (
            make_schedule(harness, "late", fire_in=-1),
            make_schedule(harness, "future", fire_in=10),
            make_schedule(harness, "paused", fire_in=-5, paused=True),
            make_schedule(harness, "later", fire_in=-2),
            make_schedule(harness, "now", fire_in=0),
        ):
            await harness.store.put_schedule(s, now=now)
        got = await acquire(harness, "o", lease_for=sec(30))
        assert [s.id for s in got] == ["later", "late", "now"]
        for s in got:
            assert (s.lease_owner, s.lease_expires_at, s.version) == ("o", now + sec(30), 2)
            assert await harness.store.get_schedule(s.id) == s
        assert await acquire(harness, "p") == []

    async def test_acquire_respects_limit_in_next_fire_order(self, harness: Harness) -> None:
        for n in range(5):
            s = make_schedule(harness, f"s{n}", fire_in=-n)
            await harness.store.put_schedule(s, now=harness.clock.now())
        assert [s.id for s in await acquire(harness, limit=2)] == ["s4", "s3"]
        assert [s.id for s in await acquire(harness, limit=2)] == ["s2", "s1"]
        assert [s.id for s in await acquire(harness, limit=2)] == ["s0"]

    async def test_concurrent_acquirers_never_share_a_schedule(self, harness: Harness) -> None:
        for n in range(30):
            s = make_schedule(harness, f"s{n:02}", fire_in=-(n % 7))
            await harness.store.put_schedule(s, now=harness.clock.now())
        stores = [await harness.another() for _ in range(4)]

        async def drain(n: int) -> list[str]:
            got: list[str] = []
            while batch := await stores[n].acquire_schedules(
                owner=f"o{n}", limit=2, lease_for=sec(30), now=harness.clock.now()
            ):
                got.extend(s.id for s in batch)
            return got

        results = await asyncio.gather(*(drain(n) for n in range(4)))
        every = [sid for r in results for sid in r]
        assert sorted(every) == [f"s{n:02}" for n in range(30)]

    async def test_expired_schedule_lease_can_be_acquired_again(self, harness: Harness) -> None:
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=harness.clock.now())
        (first,) = await acquire(harness, "o", lease_for=sec(10))
        await harness.clock.advance(9.999)
        assert await acquire(harness, "p") == []
        await harness.clock.advance(0.001)
        (second,) = await acquire(harness, "p", lease_for=sec(10))
        assert (second.lease_owner, second.version) == ("p", first.version + 1)
        commit = FireCommit("s1", first.version, "o", (), None, None)
        assert not await harness.store.commit_fires(commit, now=harness.clock.now())

    async def test_commit_fires_creates_jobs_and_advances_the_schedule(self, harness: Harness) -> None:
        now = harness.clock.now()
        schedule = make_schedule(harness, "s1", fire_in=-120)
        await harness.store.put_schedule(schedule, now=now)
        (leased,) = await acquire(harness)
        fires = [now - sec(120), now - sec(60), now]
        jobs = tuple(fire_job(harness, schedule, t) for t in fires)
        commit = FireCommit("s1", leased.version, "o", jobs, now + sec(60), fires[-1])
        assert await harness.store.commit_fires(commit, now=now)
        stored = await harness.store.get_schedule("s1")
        assert stored is not None
        assert without_times(stored) == without_times(leased).replace(
            next_fire_at=now + sec(60),
            last_fire_at=now,
            run_count=3,
            last_job_id=jobs[-1].id,
            lease_owner=None,
            lease_expires_at=None,
            version=leased.version + 1,
        )
        listed = await harness.store.list_jobs(JobFilter(schedule_id="s1"))
        assert sorted(listed, key=lambda j: j.id) == sorted(jobs, key=lambda j: j.id)
        assert await harness.store.next_due(queues=["default"]) == now - sec(120)

    async def test_commit_with_stale_version_writes_nothing(self, harness: Harness) -> None:
        now = harness.clock.now()
        schedule = make_schedule(harness, "s1")
        await harness.store.put_schedule(schedule, now=now)
        (leased,) = await acquire(harness)
        jobs = (fire_job(harness, schedule, now),)
        stale = FireCommit("s1", leased.version - 1, "o", jobs, now + sec(60), now)
        assert not await harness.store.commit_fires(stale, now=now)
        wrong_owner = FireCommit("s1", leased.version, "x", jobs, now + sec(60), now)
        assert not await harness.store.commit_fires(wrong_owner, now=now)
        missing = FireCommit("gone", leased.version, "o", jobs, now + sec(60), now)
        assert not await harness.store.commit_fires(missing, now=now)
        assert await harness.store.get_schedule("s1") == leased
        assert await harness.store.get_job(jobs[0].id) is None

    async def test_repeated_commit_of_one_fire_never_creates_a_second_job(self, harness: Harness) -> None:
        now = harness.clock.now()
        schedule = make_schedule(harness, "s1")
        await harness.store.put_schedule(schedule, now=now)
        (leased,) = await acquire(harness)
        first = fire_job(harness, schedule, now)
        # the pass committed but its author crashed before noticing: the fire is still due
        commit = FireCommit("s1", leased.version, "o", (first,), now, now)
        assert await harness.store.commit_fires(commit, now=now)
        (again,) = await acquire(harness, "p")
        second = fire_job(harness, schedule, now)
        commit = FireCommit("s1", again.version, "p", (second,), now + sec(60), now)
        assert await harness.store.commit_fires(commit, now=now)
        stored = await harness.store.get_schedule("s1")
        assert stored is not None
        assert (stored.run_count, stored.next_fire_at) == (1, now + sec(60))
        listed = await harness.store.list_jobs(JobFilter(schedule_id="s1"))
        assert [j.id for j in listed] == [first.id]
        assert await harness.store.get_job(second.id) is None

    async def test_repeated_commit_of_a_fire_after_its_job_ended_creates_nothing(
        self, harness: Harness
    ) -> None:
        now = harness.clock.now()
        schedule = make_schedule(harness, "s1")
        await harness.store.put_schedule(schedule, now=now)
        (leased,) = await acquire(harness)
        first = fire_job(harness, schedule, now)
        assert await harness.store.commit_fires(
            FireCommit("s1", leased.version, "o", (first,), now, now), now=now
        )
        await harness.store.cancel(first.id, now=now)
        (again,) = await acquire(harness, "p")
        second = fire_job(harness, schedule, now)
        assert await harness.store.commit_fires(
            FireCommit("s1", again.version, "p", (second,), now + sec(60), now), now=now
        )
        assert await harness.store.get_job(second.id) is None

    async def test_commit_with_a_superseded_fence_is_rejected(self, harness: Harness) -> None:
        ttl = sec(10)
        lead = await harness.store.acquire_lease("scheduler", owner="o", ttl=ttl, now=harness.clock.now())
        assert lead is not None
        schedule = make_schedule(harness, "s1")
        await harness.store.put_schedule(schedule, now=harness.clock.now())
        (leased,) = await acquire(harness, "o", lease_for=sec(60))
        await harness.clock.advance(10)
        now = harness.clock.now()
        usurper = await harness.store.acquire_lease("scheduler", owner="p", ttl=ttl, now=now)
        assert usurper is not None
        job = fire_job(harness, schedule, now)
        fence = Fence("scheduler", "o", lead.token)
        commit = FireCommit("s1", leased.version, "o", (job,), now + sec(60), now, fence)
        assert not await harness.store.commit_fires(commit, now=now)
        assert await harness.store.get_job(job.id) is None
        assert await harness.store.get_schedule("s1") == leased
        fence = Fence("scheduler", "p", usurper.token)
        commit = FireCommit("s1", leased.version, "o", (job,), now + sec(60), now, fence)
        assert await harness.store.commit_fires(commit, now=now)

    async def test_a_new_term_takes_over_schedules_leased_by_an_ended_one_at_once(
        self, harness: Harness
    ) -> None:
        schedule = make_schedule(harness, "s1")
        await harness.store.put_schedule(schedule, now=harness.clock.now())
        old = await elect(harness, "a", ttl=10)
        (leased,) = await acquire(harness, "a/sched", lease_for=sec(60), fence=old)
        assert (leased.lease_fence_name, leased.lease_fence_token) == (old.name, old.token)
        assert await harness.store.get_schedule("s1") == leased
        await harness.clock.advance(10)  # the old leader died mid-pass; its term lapsed
        now = harness.clock.now()
        new = await elect(harness, "b", ttl=10)
        assert await acquire(harness, "p") == [], "an unfenced acquire still waits for the lease"
        await harness.store.put_schedule(make_schedule(harness, "s2", fire_in=-1), now=now)
        got = await acquire(harness, "b/sched", lease_for=sec(60), fence=new)
        assert [s.id for s in got] == ["s1", "s2"]
        (taken, _) = got
        assert (taken.lease_owner, taken.lease_expires_at) == ("b/sched", now + sec(60))
        assert (taken.lease_fence_name, taken.lease_fence_token, taken.version) == (
            new.name,
            new.token,
            leased.version + 1,
        )
        # the ended term's pass can never commit (promise 3): the version moved on
        late = fire_job(harness, schedule, schedule.next_fire_at or now)
        stale = FireCommit("s1", leased.version, "a/sched", (late,), now + sec(60), late.fire_time, old)
        assert not await harness.store.commit_fires(stale, now=now)
        stale = FireCommit("s1", leased.version, "a/sched", (late,), now + sec(60), late.fire_time)
        assert not await harness.store.commit_fires(stale, now=now)
        assert await harness.store.get_job(late.id) is None
        job = fire_job(harness, schedule, schedule.next_fire_at or now)
        commit = FireCommit("s1", taken.version, "b/sched", (job,), now + sec(60), job.fire_time, new)
        assert await harness.store.commit_fires(commit, now=now)
        stored = await harness.store.get_schedule("s1")
        assert stored is not None
        assert stored.run_count == 1
        lease = (
            stored.lease_owner,
            stored.lease_expires_at,
            stored.lease_fence_name,
            stored.lease_fence_token,
        )
        assert lease == (None, None, None, None)
        assert [j.id for j in await harness.store.list_jobs(JobFilter(schedule_id="s1"))] == [job.id]

    async def test_a_fenced_acquire_takes_nothing_its_term_may_not(self, harness: Harness) -> None:
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=harness.clock.now())
        term = await elect(harness, "a", ttl=10)
        for stale in (
            Fence(term.name, "a", term.token + 1),  # not this term's token
            Fence(term.name, "x", term.token),  # not its owner
            Fence("leader:other", "a", term.token),  # a lease nobody holds
        ):
            assert await acquire(harness, fence=stale) == []
        (leased,) = await acquire(harness, "a/sched", lease_for=sec(60), fence=term)
        # the same term does not take its own lease over (its pass is still running)
        assert await acquire(harness, "a/sched", fence=term) == []
        await harness.clock.advance(10)  # the term expired and nobody took over
        assert await acquire(harness, "a/sched", fence=term) == []
        assert await harness.store.get_schedule("s1") == leased
        # a term of another election does not take it over either (its tokens are unrelated)
        other = await elect(harness, "b", name="leader:t")
        assert await acquire(harness, "b/sched", fence=Fence(other.name, "b", other.token + 5)) == []
        assert await acquire(harness, "b/sched", fence=other) == []

    async def test_a_fenced_acquire_waits_for_an_unfenced_lease(self, harness: Harness) -> None:
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=harness.clock.now())
        (leased,) = await acquire(harness, "solo", lease_for=sec(20))
        assert (leased.lease_fence_name, leased.lease_fence_token) == (None, None)
        term = await elect(harness, "a", ttl=60)
        assert await acquire(harness, "a/sched", fence=term) == []
        await harness.clock.advance(20)
        (taken,) = await acquire(harness, "a/sched", fence=term)
        assert (taken.lease_owner, taken.lease_fence_token) == ("a/sched", term.token)

    async def test_clearing_a_lease_clears_its_term(self, harness: Harness) -> None:
        now = harness.clock.now()
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=now)
        term = await elect(harness, "a", ttl=60)
        await acquire(harness, "a/sched", fence=term)
        paused = await harness.store.set_schedule_paused("s1", True, next_fire_at=None, now=now)
        assert (paused.lease_owner, paused.lease_fence_name, paused.lease_fence_token) == (None, None, None)
        await harness.store.set_schedule_paused("s1", False, next_fire_at=now, now=now)
        await acquire(harness, "a/sched", fence=term)
        changed = make_schedule(harness, "s1").replace(queue="other")
        redefined = await harness.store.put_schedule(changed, now=now)
        assert (redefined.lease_owner, redefined.lease_fence_name, redefined.lease_fence_token) == (
            None,
            None,
            None,
        )
        (again,) = await acquire(harness, "a/sched", fence=term)
        assert again.lease_fence_token == term.token
        await harness.clock.advance(LEASE.total_seconds())
        (unfenced,) = await acquire(harness, "solo")  # the lease expired: an unfenced acquire
        assert (unfenced.lease_fence_name, unfenced.lease_fence_token) == (None, None)

    async def test_next_schedule_due(self, harness: Harness) -> None:
        now = harness.clock.now()
        assert await harness.store.next_schedule_due() is None
        await harness.store.put_schedule(make_schedule(harness, "a", fire_in=10), now=now)
        await harness.store.put_schedule(make_schedule(harness, "b", fire_in=5), now=now)
        assert await harness.store.next_schedule_due() == now + sec(5)
        await harness.store.set_schedule_paused("b", True, next_fire_at=None, now=now)
        assert await harness.store.next_schedule_due() == now + sec(10)
        await harness.clock.advance(10)
        await acquire(harness, lease_for=sec(30))
        assert await harness.store.next_schedule_due() == now + sec(40)
        await harness.store.remove_schedule("a")
        assert await harness.store.next_schedule_due() is None

    async def test_removing_a_schedule_keeps_its_jobs(self, harness: Harness) -> None:
        now = harness.clock.now()
        schedule = make_schedule(harness, "s1")
        await harness.store.put_schedule(schedule, now=now)
        (leased,) = await acquire(harness)
        job = fire_job(harness, schedule, now)
        assert await harness.store.commit_fires(
            FireCommit("s1", leased.version, "o", (job,), now + sec(60), now), now=now
        )
        assert await harness.store.remove_schedule("s1")
        assert await harness.store.get_job(job.id) == job


def without_times(s: Schedule) -> Schedule:
    return s.replace(created_at=None, updated_at=None)
