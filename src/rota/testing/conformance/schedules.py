"""Schedule definitions: put (idempotent, state-keeping), get, list, remove, pause, resume."""

from __future__ import annotations

import pytest

from rota._errors import ScheduleNotFound
from rota._models import FireCommit
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import make_schedule, sec, without_timestamps


class Schedules:
    async def test_put_new_schedule_stores_it_at_version_one(self, harness: Harness) -> None:
        schedule = make_schedule(harness, "s1", fire_in=60)
        stored = await harness.store.put_schedule(schedule, now=harness.clock.now())
        assert without_timestamps(stored) == schedule.replace(version=1)
        fetched = await harness.store.get_schedule("s1")
        assert fetched is not None
        assert without_timestamps(fetched) == schedule.replace(version=1)

    async def test_get_unknown_schedule_returns_none(self, harness: Harness) -> None:
        assert await harness.store.get_schedule("nope") is None

    async def test_list_schedules_by_id_and_remove(self, harness: Harness) -> None:
        for sid in ("b", "c", "a"):
            await harness.store.put_schedule(make_schedule(harness, sid), now=harness.clock.now())
        assert [s.id for s in await harness.store.list_schedules()] == ["a", "b", "c"]
        assert await harness.store.remove_schedule("b") is True
        assert await harness.store.remove_schedule("b") is False
        assert await harness.store.get_schedule("b") is None
        assert [s.id for s in await harness.store.list_schedules()] == ["a", "c"]

    async def test_put_same_definition_writes_nothing(self, harness: Harness) -> None:
        first = await harness.store.put_schedule(
            make_schedule(harness, "s1", fire_in=60), now=harness.clock.now()
        )
        await harness.clock.advance(5)
        again = make_schedule(harness, "s1", fire_in=999)  # same definition, other next fire
        assert await harness.store.put_schedule(again, now=harness.clock.now()) == first
        assert await harness.store.get_schedule("s1") == first

    async def test_put_changed_definition_keeps_state_and_bumps_version(self, harness: Harness) -> None:
        now = harness.clock.now()
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=now)
        (leased,) = await harness.store.acquire_schedules(owner="o", limit=1, lease_for=sec(30), now=now)
        commit = FireCommit("s1", leased.version, "o", (), now + sec(60), now)
        assert await harness.store.commit_fires(commit, now=now)
        paused = await harness.store.set_schedule_paused("s1", True, next_fire_at=None, now=now)
        changed = make_schedule(harness, "s1", fire_in=5, priority=7)
        stored = await harness.store.put_schedule(changed, now=harness.clock.now())
        assert without_timestamps(stored) == without_timestamps(paused).replace(
            priority=7, version=paused.version + 1
        )
        assert (stored.paused, stored.next_fire_at, stored.last_fire_at) == (
            True,
            now + sec(60),
            now,
        )

    async def test_put_changed_trigger_takes_the_new_next_fire_at(self, harness: Harness) -> None:
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=harness.clock.now())
        changed = make_schedule(harness, "s1", fire_in=30, trigger="interval:30")
        stored = await harness.store.put_schedule(changed, now=harness.clock.now())
        assert (stored.trigger, stored.next_fire_at, stored.version) == (
            "interval:30",
            harness.clock.now() + sec(30),
            2,
        )

    async def test_put_changed_definition_clears_the_lease(self, harness: Harness) -> None:
        now = harness.clock.now()
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=now)
        (leased,) = await harness.store.acquire_schedules(owner="o", limit=1, lease_for=sec(30), now=now)
        stored = await harness.store.put_schedule(make_schedule(harness, "s1", priority=1), now=now)
        assert (stored.lease_owner, stored.lease_expires_at) == (None, None)
        assert stored.version > leased.version
        commit = FireCommit("s1", leased.version, "o", (), now + sec(60), now)
        assert not await harness.store.commit_fires(commit, now=now)
        acquired = await harness.store.acquire_schedules(owner="p", limit=1, lease_for=sec(30), now=now)
        assert [s.lease_owner for s in acquired] == ["p"]

    async def test_pause_and_resume(self, harness: Harness) -> None:
        now = harness.clock.now()
        created = await harness.store.put_schedule(make_schedule(harness, "s1"), now=now)
        paused = await harness.store.set_schedule_paused("s1", True, next_fire_at=None, now=now)
        assert without_timestamps(paused) == without_timestamps(created).replace(
            paused=True, version=created.version + 1
        )
        assert await harness.store.acquire_schedules(owner="o", limit=5, lease_for=sec(30), now=now) == []
        assert await harness.store.next_schedule_due() is None
        await harness.clock.advance(100)
        later = harness.clock.now() + sec(1)
        resumed = await harness.store.set_schedule_paused(
            "s1", False, next_fire_at=later, now=harness.clock.now()
        )
        assert (resumed.paused, resumed.next_fire_at, resumed.version) == (
            False,
            later,
            paused.version + 1,
        )
        assert await harness.store.next_schedule_due() == later

    async def test_resume_without_next_fire_at_keeps_the_stored_one(self, harness: Harness) -> None:
        now = harness.clock.now()
        created = await harness.store.put_schedule(make_schedule(harness, "s1", fire_in=9), now=now)
        await harness.store.set_schedule_paused("s1", True, next_fire_at=None, now=now)
        resumed = await harness.store.set_schedule_paused("s1", False, next_fire_at=None, now=now)
        assert (resumed.paused, resumed.next_fire_at) == (False, created.next_fire_at)

    async def test_pause_clears_the_lease_and_stales_the_commit(self, harness: Harness) -> None:
        now = harness.clock.now()
        await harness.store.put_schedule(make_schedule(harness, "s1"), now=now)
        (leased,) = await harness.store.acquire_schedules(owner="o", limit=1, lease_for=sec(30), now=now)
        paused = await harness.store.set_schedule_paused("s1", True, next_fire_at=None, now=now)
        assert (paused.lease_owner, paused.lease_expires_at) == (None, None)
        commit = FireCommit("s1", leased.version, "o", (), now + sec(60), now)
        assert not await harness.store.commit_fires(commit, now=now)
        assert await harness.store.get_schedule("s1") == paused

    async def test_pause_of_unknown_schedule_raises(self, harness: Harness) -> None:
        with pytest.raises(ScheduleNotFound):
            await harness.store.set_schedule_paused("nope", True, next_fire_at=None, now=harness.clock.now())
