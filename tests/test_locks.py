"""Distributed locks on a fake clock, over every store: mutual exclusion, renewal, loss
cancelling the block with LockLost, fenced writes, timeouts; and per-key task locks in the
worker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, TypedDict

import pytest
from pydantic import BaseModel

import rota
from rota import App, EventKind, JobStatus
from rota._models import Finish, Job, Outcome
from rota.runtime.locks import Lock, lock_owner, task_lock_key
from rota.stores.base import Store
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from rota.testing.conformance import Harness
from tests.test_leader import WAIT, Calls, Probe, drive

TTL = 9.0  # renewed every 3 s, trusted for 9 - 0.9 s after each renewal


@dataclass
class Env:
    harness: Harness
    calls: Calls

    @property
    def clock(self) -> FakeClock:
        return self.harness.clock

    @property
    def store(self) -> Store:
        return self.harness.store

    def probe(self) -> Probe:
        return Probe(self.store, self.calls)

    def lock(
        self, name: str = "reports:daily", who: str = "i1", probe: Probe | None = None, **kw: Any
    ) -> Lock:
        store = (probe or self.probe()).as_store()
        return Lock(store, self.clock, name, owner=lock_owner(who), ttl=kw.pop("ttl", TTL), **kw)

    async def run(self, seconds: float) -> None:
        await drive(self.clock, self.calls, seconds)

    async def claimed_job(self, job_id: str) -> Job:
        now = self.clock.now()
        job = Job(id=job_id, task="t", due_at=now, created_at=now, max_attempts=3)
        await self.store.add([job], now=now)
        [claimed] = await self.store.claim(
            queues=["default"], worker="w", limit=1, lease_for=timedelta(hours=1), now=now
        )
        return claimed


@pytest.fixture
async def env(harness: Harness) -> AsyncIterator[Env]:
    e = Env(harness, Calls())
    yield e
    await e.calls.quiet()


async def test_mutual_exclusion_under_contention(env: Env) -> None:
    inside, most, order = 0, 0, []

    async def critical(n: int) -> None:
        nonlocal inside, most
        async with env.lock(who=f"i{n}", retry_interval=1.0) as held:
            inside += 1
            most = max(most, inside)
            order.append(held.token)
            await env.clock.sleep(2)
            assert held.held
            inside -= 1

    tasks = [asyncio.ensure_future(critical(n)) for n in range(20)]
    await env.run(20 * 3.5)
    assert all(t.done() for t in tasks)
    await asyncio.gather(*tasks)
    assert most == 1 and len(order) == 20
    assert order == sorted(order) and len(set(order)) == 20  # each holder fenced higher


async def test_renewal_keeps_the_lock_and_release_frees_it(env: Env) -> None:
    lock = env.lock()
    async with lock as held:
        token = held.token
        assert held.fence is not None and held.fence.token == token
        assert held.fence.name == "lock:reports:daily"
        await env.run(10 * TTL)
        assert held.held and held.token == token
        assert env.calls.count["renew_lease"] == 30
        with pytest.raises(TimeoutError, match="still held"):
            await env.lock(who="i2", timeout=0).acquire()
    assert not lock.held and lock.token is None and lock.fence is None
    assert await env.store.get_lease("lock:reports:daily", now=env.clock.now()) is None
    async with env.lock(who="i2", timeout=0) as other:
        assert other.token is not None and token is not None and other.token > token


async def test_waiting_for_a_lock_and_timing_out(env: Env) -> None:
    first = await env.lock().acquire()
    waiter = asyncio.ensure_future(env.lock(who="i2", timeout=5, retry_interval=1).acquire())
    await env.run(4.9)
    assert not waiter.done()
    await env.run(0.1)
    with pytest.raises(TimeoutError):
        await waiter
    waiter = asyncio.ensure_future(env.lock(who="i3", timeout=10, retry_interval=1).acquire())
    await env.run(2)
    await first.release()
    await env.run(1)  # the waiter's next retry
    assert waiter.done() and (await waiter).held


async def test_losing_the_lock_cancels_the_block_with_lock_lost_and_fences_writes(env: Env) -> None:
    job_a, job_b = await env.claimed_job("a"), await env.claimed_job("b")
    reached: list[str] = []
    holder = env.lock()

    async def guarded() -> None:
        async with holder as held:
            done = [Finish("a", job_a.token, Outcome.SUCCEEDED, fence=held.fence)]
            applied = await env.probe().finish(done, worker="w", now=env.clock.now())  # counted call
            reached.append(f"first write applied={applied}")
            await env.clock.sleep(1000)
            reached.append("after the sleep")  # never: the block is cancelled

    task = asyncio.ensure_future(guarded())
    await env.run(1)
    assert reached == ["first write applied=[True]"]
    stale = holder.fence
    assert stale is not None
    # someone breaks the lock (an operator, or the holder was paused past its ttl)
    now = env.clock.now()
    assert await env.store.release_lease(stale.name, owner=stale.owner, token=stale.token, now=now)
    thief = await env.lock(who="thief", timeout=0).acquire()
    applied = await env.store.finish(
        [Finish("b", job_b.token, Outcome.SUCCEEDED, fence=stale)], worker="w", now=env.clock.now()
    )
    assert applied == [False]  # the store refuses the old holder's write at once
    await env.run(2)  # the next renewal finds the lock gone
    with pytest.raises(rota.LockLost, match="reports:daily"):
        await asyncio.wait_for(task, WAIT)
    assert reached == ["first write applied=[True]"] and holder.lost
    assert (await env.store.get_job("b")).status is JobStatus.RUNNING  # type: ignore[union-attr]
    assert thief.held


async def test_store_outage_loses_the_lock_at_the_safety_deadline(env: Env) -> None:
    probe = env.probe()
    holder = env.lock(probe=probe)

    async def guarded() -> None:
        async with holder:
            await env.clock.sleep(1000)

    task = asyncio.ensure_future(guarded())
    await env.run(0)
    probe.failing = True
    await env.run(TTL - 0.9 - 0.001)
    assert not task.done() and holder.held
    await env.run(0.001)
    with pytest.raises(rota.LockLost):
        await asyncio.wait_for(task, WAIT)


async def test_the_callers_cancellation_and_errors_pass_through_and_release(env: Env) -> None:
    holder = env.lock()
    entered = asyncio.Event()

    async def guarded() -> None:
        async with holder:
            entered.set()
            await env.clock.sleep(1000)

    task = asyncio.ensure_future(guarded())
    await asyncio.wait_for(entered.wait(), WAIT)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await env.calls.quiet()
    assert await env.store.get_lease("lock:reports:daily", now=env.clock.now()) is None
    again = env.lock()

    async def failing() -> None:
        async with again:
            assert again.held
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await failing()
    assert await env.store.get_lease("lock:reports:daily", now=env.clock.now()) is None


def test_bad_lock_options_are_config_errors() -> None:
    store, clock = MemoryStore(), FakeClock()
    with pytest.raises(rota.ConfigError, match="must be less than the ttl"):
        Lock(store, clock, "x", owner="o", ttl=3, renew_interval=3)
    with pytest.raises(rota.ConfigError, match="non-empty"):
        Lock(store, clock, "", owner="o")
    with pytest.raises(rota.ConfigError, match="timeout must not be negative"):
        Lock(store, clock, "x", owner="o", timeout=-1)


# -- task lock keys ---------------------------------------------------------------------------


@dataclass
class Invoice:
    customer_id: int
    amount: float


class InvoiceDict(TypedDict):
    customer_id: int


class Point(NamedTuple):
    x: int
    y: int


def test_task_lock_keys_are_formatted_from_the_payload() -> None:
    app = App(store=MemoryStore())

    @app.task(lock="invoice:{customer_id}")
    async def bill(invoice: Invoice) -> None: ...

    @app.task(lock="invoice:{customer_id}")
    async def bill_dict(invoice: InvoiceDict) -> None: ...

    @app.task(lock="user:{payload}")
    async def touch(user: str) -> None: ...

    @app.task(lock="p:{x}-{y}")
    async def plot(p: Point) -> None: ...

    @app.task
    async def free(n: int) -> None: ...

    assert task_lock_key(bill, Invoice(42, 9.5)) == "invoice:42"
    assert task_lock_key(bill_dict, {"customer_id": 7}) == "invoice:7"
    assert task_lock_key(touch, "ada") == "user:ada"
    assert task_lock_key(plot, Point(1, 2)) == "p:1-2"
    assert task_lock_key(free, 1) is None
    with pytest.raises(rota.PayloadError, match=r"names \{customer_id\}.*fields: payload"):
        task_lock_key(bill, "not an invoice")


class Order(BaseModel):
    shop: str
    number: int


def test_task_lock_keys_from_pydantic_models() -> None:
    app = App(store=MemoryStore())

    @app.task(lock="order:{shop}/{number}")
    async def pack(order: Order) -> None: ...

    assert task_lock_key(pack, Order(shop="north", number=3)) == "order:north/3"


# -- task locks in the worker (memory store, fake clock) ------------------------------------


@pytest.fixture
async def app(clock: FakeClock) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="w1")
    yield app
    await app.close()


async def test_runs_of_one_key_never_overlap_other_keys_run_alongside(app: App, clock: FakeClock) -> None:
    running: dict[int, int] = {}
    most: dict[int, int] = {}

    @app.task(lock="invoice:{customer_id}", retry=1)
    async def bill(invoice: Invoice) -> None:
        key = invoice.customer_id
        running[key] = running.get(key, 0) + 1
        most[key] = max(most.get(key, 0), running[key])
        await clock.sleep(1)
        running[key] -= 1

    jobs = [await bill.enqueue(Invoice(n % 2, 1.0)) for n in range(6)]
    async with app.worker(concurrency=6, lease=30, grace=0):
        await clock.wait_for_sleepers(3)  # two runs sleeping, the other four waiting for the lock
        for _ in range(40):
            await clock.advance(0.5)
            statuses = [(await app.get_job(j.id)).status for j in jobs]
            if statuses == [JobStatus.SUCCEEDED] * 6:
                break
    assert [(await app.get_job(j.id)).status for j in jobs] == [JobStatus.SUCCEEDED] * 6
    assert most == {0: 1, 1: 1}
    for j in jobs:  # one attempt each: waiting for the lock spent none
        assert [a.outcome for a in await app.attempts(j.id)] == [Outcome.SUCCEEDED]


async def test_a_key_busy_for_the_whole_wait_gives_the_job_back_without_spending_an_attempt(
    app: App, clock: FakeClock
) -> None:
    @app.task(lock="user:{payload}", retry=1)
    async def touch(user: str) -> str:
        return user

    # another process holds the key
    await app.open()  # the store is used directly: open it first, as the App would
    other = await Lock(app.store, clock, "user:ada", owner="elsewhere", ttl=60).acquire()
    job = await touch.enqueue("ada")
    released = asyncio.Queue[rota.Event]()
    app.on(EventKind.RELEASED, released.put_nowait)
    async with app.worker(lease=30, grace=0):
        await clock.wait_for_deadline(clock.now() + timedelta(seconds=1))  # its first retry
        await clock.advance(10)  # the worker waits lease/3 for the key, then gives the job back
        event = await asyncio.wait_for(released.get(), WAIT)
        assert event.job.id == job.id
        stored = await app.get_job(job.id)
        assert stored.attempts in (0, 1)  # given back (0) or already claimed again (1)
        await other.release()
        await clock.advance(10)
        await app.wait_until_idle(timeout=WAIT)
    stored = await app.get_job(job.id)
    assert stored.status is JobStatus.SUCCEEDED and stored.attempts == 1
    assert stored.result == b'"ada"'


async def test_a_run_that_lost_its_lock_cannot_record_its_outcome(app: App, clock: FakeClock) -> None:
    proceed = asyncio.Event()
    started = asyncio.Event()

    @app.task(lock="user:{payload}")
    async def touch(user: str) -> None:
        started.set()
        await proceed.wait()

    job = await touch.enqueue("ada")
    async with app.worker(lease=30, grace=0) as worker:
        await asyncio.wait_for(started.wait(), WAIT)
        lease = await app.store.get_lease("lock:user:ada", now=clock.now())
        assert lease is not None and lease.owner == f"w1/{job.id}"
        # the lock is broken and taken before the worker's next renewal could notice
        now = clock.now()
        assert await app.store.release_lease(lease.name, owner=lease.owner, token=lease.token, now=now)
        assert await app.store.acquire_lease(lease.name, owner="thief", ttl=timedelta(60), now=clock.now())
        proceed.set()
        for _ in range(100):
            await asyncio.sleep(0)
            if worker.counters.lost:
                break
        assert worker.counters.lost == 1 and worker.counters.succeeded == 0
        stored = await app.get_job(job.id)
        assert stored.status is JobStatus.RUNNING  # the outcome was refused: no silent success


def test_task_lock_templates_follow_the_limit_keys_rules_at_declaration() -> None:
    # one key-template mechanism for locks and limits: refused when declared, not at a run
    app = App(store=MemoryStore())
    for bad in ("invoice:{customer.id}", "invoice:{0}", "x:{a!r}{"):
        with pytest.raises(rota.ConfigError, match="task lock key"):
            app.task(lock=bad, name=f"t{len(bad)}")(_noop)


async def _noop(n: int) -> None: ...
