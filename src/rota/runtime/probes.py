"""Liveness and readiness of a worker process: what ``/healthz`` and ``/readyz`` answer
(``rota worker --health-port``), without the HTTP.

Liveness asks only the process: is the event loop running its timers on time (a blocked loop
stops heartbeats, so its leases expire and its jobs run twice)? It never asks the store: a
store outage must not get a healthy worker restarted. Readiness runs ``checks``, a list of
named conditions, each under a timeout: the store answers a cheap read (the leader's lease,
which the body reports), the worker serves (not starting, not stopping), and its entry in the
store's registry of live workers (``rota workers``) was written by its last refresh. A process adds
its own with ``probes.checks.append(Check(name, run))``.

Both bodies carry the fields of ``app.health()`` that need no scan: ``instance_id``,
``tasks``, ``leader``, ``is_leader``, ``executes_jobs``, ``fires_schedules``...
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from typing import Any

from rota.runtime.context import RuntimeContext
from rota.runtime.leader import LEADER_PREFIX, LeaderInfo
from rota.runtime.looplag import LoopLag
from rota.runtime.worker import Worker

#: seconds of loop lag past which the process is not live (``--max-loop-lag``)
MAX_LOOP_LAG = 5.0
#: seconds each readiness check may take
CHECK_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Check:
    """One readiness condition: ``run()`` returns None when it holds, else why not (an
    exception, or no answer within the timeout, is a failure too)."""

    name: str
    run: Callable[[], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Verdict:
    """A probe's answer: ``ok`` (HTTP 200, else 503) and its JSON body."""

    ok: bool
    body: dict[str, Any]


class Probes:
    """The probes of one worker process (``loop_lag`` must be measuring)."""

    def __init__(
        self,
        context: RuntimeContext,
        worker: Worker,
        *,
        loop_lag: LoopLag,
        max_loop_lag: float = MAX_LOOP_LAG,
        timeout: float = CHECK_TIMEOUT,
    ) -> None:
        self.context = context
        self.worker = worker
        self.loop_lag = loop_lag
        self.max_loop_lag = max_loop_lag
        self.timeout = timeout
        self.checks: list[Check] = [Check("store", self._store_answers), Check("worker", self._worker_serves)]
        self.checks.append(Check("registered", self._worker_registered))
        self._leader: LeaderInfo | None = None  # as last read by the store check

    async def liveness(self) -> Verdict:
        lag = self.loop_lag.worst()
        ok = lag <= self.max_loop_lag
        body = {
            "status": "ok" if ok else "failing",
            "loop_lag_seconds": round(lag, 6),
            "max_loop_lag_seconds": self.max_loop_lag,
            **self._report(),
        }
        if not ok:
            body["error"] = f"the event loop ran {lag:.2f}s late (over {self.max_loop_lag:g}s)"
        return Verdict(ok, body)

    async def readiness(self) -> Verdict:
        results = await asyncio.gather(*(self._run(check) for check in self.checks))
        checks = {check.name: result for check, result in zip(self.checks, results, strict=True)}
        ok = all(result["ok"] for result in checks.values())
        return Verdict(ok, {"status": "ok" if ok else "failing", "checks": checks, **self._report()})

    async def _run(self, check: Check) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.timeout):
                why = await check.run()
        except TimeoutError:
            why = f"no answer within {self.timeout:g}s"
        except Exception as exc:
            why = f"{type(exc).__name__}: {exc}"
        return {"ok": True} if why is None else {"ok": False, "error": why}

    async def _store_answers(self) -> str | None:
        store, clock = self.context.store, self.context.clock
        name = LEADER_PREFIX + self.worker.services.settings.name
        lease = await store.get_lease(name, now=clock.now())
        self._leader = LeaderInfo.of(lease) if lease is not None else None
        return None

    async def _worker_serves(self) -> str | None:
        if self.worker.stopping:
            return "the worker is stopping"
        if not self.worker.serving:
            return "the worker is not serving yet"
        return None

    async def _worker_registered(self) -> str | None:
        if self.worker.registered:
            return None
        return "the worker is not in the store's registry of live workers (rota workers)"

    def _report(self) -> dict[str, Any]:
        """The role fields of ``app.health()`` (no store call: the leader as last read)."""
        role = self.worker.services.role()
        leader = self.worker.services.election.term if self.worker.services.election is not None else None
        leader = leader if role.is_leader else self._leader
        return {
            "instance_id": role.instance_id,
            "tasks": sorted(self.context.tasks),
            "leader": None if leader is None else leader_dict(leader),
            "is_leader": role.is_leader,
            "executes_jobs": role.executes_jobs,
            "fires_schedules": role.fires_schedules,
            "election": role.election,
            "runs_worker": role.runs_worker,
            "runs_scheduler": role.runs_scheduler,
            "running_jobs": self.worker.active,
        }


def leader_dict(leader: LeaderInfo) -> dict[str, Any]:
    """A term as JSON-ready fields (as ``Health.to_dict`` writes it)."""
    data = asdict(leader)
    data["host"] = leader.host
    data["since"] = leader.since.isoformat()
    data["expires_at"] = leader.expires_at.isoformat()
    return data
