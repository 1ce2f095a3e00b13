"""The registry of live workers: registration, refresh, expiry by the clock, removal."""

from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest

from rota._errors import ConfigError
from rota._models import WorkerInfo
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import sec

TTL = sec(30)


def info(h: Harness, worker_id: str = "w1", **changes: object) -> WorkerInfo:
    base = WorkerInfo(
        id=worker_id,
        host="host-1",
        pid=4242,
        queues=("default", "mail"),
        concurrency=8,
        running=0,
        version="1.2.3",
        started_at=h.clock.now(),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


async def register(h: Harness, entry: WorkerInfo) -> WorkerInfo:
    return await h.store.register_worker(entry, ttl=TTL, now=h.clock.now())


async def live(h: Harness) -> list[WorkerInfo]:
    return await h.store.list_workers(now=h.clock.now())


class Workers:
    async def test_a_registered_worker_is_listed_with_every_field(self, harness: Harness) -> None:
        now = harness.clock.now()
        entry = info(harness, queues=("q-ü", "default"))
        stored = await register(harness, entry)
        assert stored == dataclasses.replace(entry, last_heartbeat=now, expires_at=now + TTL)
        assert await live(harness) == [stored]

    async def test_workers_are_listed_by_id_from_every_connection(self, harness: Harness) -> None:
        for worker_id in ("w3", "w1", "w2"):
            await register(harness, info(harness, worker_id))
        other = await harness.another()
        assert [w.id for w in await other.list_workers(now=harness.clock.now())] == ["w1", "w2", "w3"]

    async def test_a_refresh_replaces_the_entry_and_extends_its_life(self, harness: Harness) -> None:
        await register(harness, info(harness))
        await harness.clock.advance(20)
        refreshed = await register(harness, info(harness, running=5, queues=("other",)))
        await harness.clock.advance(20)  # 40 s after the first registration, 20 after the refresh
        (listed,) = await live(harness)
        assert listed == refreshed
        assert (listed.running, listed.queues) == (5, ("other",))
        assert listed.last_heartbeat == harness.clock.now() - sec(20)
        assert listed.expires_at == listed.last_heartbeat + TTL

    async def test_an_entry_expires_by_the_clock_and_is_deleted(self, harness: Harness) -> None:
        await register(harness, info(harness, "gone"))
        await harness.clock.advance(10)
        kept = await register(harness, info(harness, "kept"))
        await harness.clock.advance(19.999)
        assert [w.id for w in await live(harness)] == ["gone", "kept"]
        await harness.clock.advance(0.001)  # "gone" expires now: expires_at <= now
        assert await live(harness) == [kept]
        # the listing deleted the expired entry
        assert await harness.store.unregister_worker("gone") is False
        await harness.clock.advance(10)
        assert await live(harness) == []

    async def test_an_expired_worker_that_refreshes_is_listed_again(self, harness: Harness) -> None:
        await register(harness, info(harness))
        await harness.clock.advance(31)
        assert await live(harness) == []
        again = await register(harness, info(harness, running=1))
        assert await live(harness) == [again]

    async def test_unregister_removes_only_that_worker(self, harness: Harness) -> None:
        await register(harness, info(harness, "a"))
        b = await register(harness, info(harness, "b"))
        assert await harness.store.unregister_worker("a") is True
        assert await live(harness) == [b]
        assert await harness.store.unregister_worker("a") is False
        assert await harness.store.unregister_worker("nobody") is False

    async def test_registrations_are_checked_before_anything_is_written(self, harness: Harness) -> None:
        store, now = harness.store, harness.clock.now()
        naive = datetime(2030, 1, 1)  # noqa: DTZ001 - naive on purpose
        bad_infos: list[object] = [
            info(harness, ""),
            info(harness, host=""),
            info(harness, version=""),
            info(harness, pid=-1),
            info(harness, concurrency=True),
            info(harness, running=1.5),
            info(harness, queues=["default"]),
            info(harness, queues=("",)),
            info(harness, started_at=naive),
            "w1",
        ]
        for bad in bad_infos:
            entry: WorkerInfo = bad  # type: ignore[assignment]
            with pytest.raises(ConfigError):
                await store.register_worker(entry, ttl=TTL, now=now)
        for ttl in (sec(0), sec(-1), 30):
            with pytest.raises(ConfigError):
                await store.register_worker(info(harness), ttl=ttl, now=now)  # type: ignore[arg-type]
        with pytest.raises(ConfigError):
            await store.register_worker(info(harness), ttl=TTL, now=naive)
        with pytest.raises(ConfigError):
            await store.list_workers(now=naive)
        with pytest.raises(ConfigError):
            await store.unregister_worker("")
        assert await live(harness) == []
