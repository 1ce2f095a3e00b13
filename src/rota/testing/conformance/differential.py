"""Random operation sequences, replayed on the store under test and on a reference store.

Seeded, so every run replays the same sequences. Every random choice is drawn before
either store runs the operation. Only fields the contract pins down are compared; a
divergence names the step, the operation and both answers.

Two points the contract leaves open are kept out of the sequences (the targeted tests cover
each path): claims always name every queue (whether a claim may also fail expired leases of
queues it did not ask for), and no job runs out of attempts by losing its lease (whether a
candidate that dies in a claim counts against ``limit``); purges take no small limit
(the order a limited purge picks victims in is not specified).
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest

from rota._errors import RotaError
from rota._models import ErrorInfo, Finish, Job, JobFilter, LeaseRef, Outcome
from rota.stores.base import Store
from rota.stores.memory import MemoryStore
from rota.testing.conformance._harness import Harness
from rota.testing.conformance._support import make_job

STEPS = 150
Op = Callable[[Store], Awaitable[Any]]


def _job_view(job: Job) -> tuple[Any, ...]:
    return (
        job.id, job.status, job.token, job.attempts, job.lease_owner, job.lease_expires_at,
        job.due_at, job.priority, job.queue, job.key,
    )  # fmt: skip


async def _state(store: Store) -> list[tuple[Any, ...]]:
    out = []
    for job in await store.list_jobs(JobFilter(limit=100_000)):
        history = await store.get_attempts(job.id)
        out.append((*_job_view(job), tuple((a.number, a.worker, a.outcome) for a in history)))
    return out


async def _answer(op: Op, store: Store) -> Any:
    try:
        result = await op(store)
    except RotaError as exc:
        return ("raised", type(exc).__name__)
    if isinstance(result, list):
        return [_job_view(r) if isinstance(r, Job) else r for r in result]
    return _job_view(result) if isinstance(result, Job) else result


def _seeded_id(seed: int, n: int) -> str:
    """A valid UUIDv7-layout id that is the same on every run (sequence number ``n``)."""
    value = (0x01A2_1337_0000 + seed) << 80 | n
    value = (value & ~(0xF << 76)) | (0x7 << 76)
    value = (value & ~(0x3 << 62)) | (0x2 << 62)
    return f"{value:032x}"


class _Script:
    """Draws the next operation; remembers jobs and claims to aim at (stale ones included)."""

    def __init__(self, h: Harness, seed: int) -> None:
        self.h = h
        self.rnd = random.Random(seed)
        self.seed = seed
        self.known: list[str] = []
        self.held: dict[str, tuple[int, str]] = {}  # job id -> (token, owner) of its last claim

    def next(self, step: int) -> tuple[str, Op | None]:
        rnd, now = self.rnd, self.h.clock.now()
        name = rnd.choice(
            ["add", "add", "claim", "claim", "finish", "finish", "heartbeat", "release",
             "cancel", "requeue", "advance", "advance", "purge"]
        )  # fmt: skip
        if name == "add":
            jobs = [
                make_job(
                    self.h,
                    job_id=_seeded_id(self.seed, len(self.known) + n),
                    queue=rnd.choice(["a", "b"]),
                    priority=rnd.randint(0, 2),
                    delay=rnd.randint(-2, 5),
                    max_attempts=1000,
                    key=rnd.choice([None, None, "k1", "k2", "k3"]),
                )
                for n in range(rnd.randint(1, 3))
            ]
            self.known.extend(j.id for j in jobs)
            return name, lambda s: _add(s, jobs, now)
        if name == "claim":
            queues = rnd.sample(["a", "b"], 2)
            worker, limit = rnd.choice(["w1", "w2", "w3"]), rnd.randint(1, 3)
            lease = timedelta(seconds=rnd.randint(3, 12))
            return name, lambda s: s.claim(
                queues=queues, worker=worker, limit=limit, lease_for=lease, now=now
            )
        if name in ("finish", "heartbeat", "release") and self.held:
            job_id = rnd.choice(sorted(self.held))
            token, owner = self.held[job_id]
            token += 0 if rnd.random() < 0.9 else 1
            ref = LeaseRef(job_id, token)
            if name == "heartbeat":
                lease = timedelta(seconds=rnd.randint(3, 12))
                return name, lambda s: s.heartbeat([ref], lease_for=lease, now=now)
            if name == "release":
                return name, lambda s: s.release([ref], now=now)
            # (released is release's outcome, not one a worker hands to finish)
            outcome = rnd.choice([o for o in Outcome if o is not Outcome.RELEASED])
            retry = outcome is not Outcome.SUCCEEDED and rnd.random() < 0.4
            fin = Finish(
                job_id,
                token,
                outcome,
                retry_at=now + timedelta(seconds=rnd.randint(0, 4)) if retry else None,
                error=ErrorInfo("E", f"step {step}"),
                result=b"r" if outcome is Outcome.SUCCEEDED else None,
            )
            return name, lambda s: s.finish([fin], worker=owner, now=now)
        if name in ("cancel", "requeue") and self.known:
            target = rnd.choice(self.known)
            if name == "cancel":
                return name, lambda s: s.cancel(target, now=now)
            return name, lambda s: s.requeue(target, now=now)
        if name == "purge":
            # no small limit: which jobs a limited purge takes first is not specified
            cutoff = now - timedelta(seconds=rnd.randint(0, 10))
            return name, lambda s: s.purge(finished_before=cutoff)
        return "advance", None


async def _add(store: Store, jobs: list[Job], now: Any) -> list[tuple[str, bool]]:
    return [(r.job.id, r.created) for r in await store.add(jobs, now=now)]


class Differential:
    @pytest.mark.parametrize("seed", [1, 2, 3])
    async def test_random_job_operations_match_the_reference_store(self, harness: Harness, seed: int) -> None:
        reference = MemoryStore()
        await reference.open()
        script = _Script(harness, seed)
        for step in range(STEPS):
            name, op = script.next(step)
            if op is None:
                await harness.clock.advance(timedelta(milliseconds=script.rnd.randint(0, 6000)))
                continue
            got = await _answer(op, harness.store)
            want = await _answer(op, reference)
            assert got == want, f"step {step}: {name} gave {got!r}, the reference {want!r}"
            if name == "claim":
                for view in got:
                    script.held[view[0]] = (view[2], view[4])
            state, expected = await _state(harness.store), await _state(reference)
            if state != expected:
                diff = [(a, b) for a, b in zip(state, expected, strict=False) if a != b]
                pytest.fail(f"step {step}: the state after {name} differs (store, reference): {diff}")
