"""Leader election across real OS processes sharing one SQLite file, on the real clock.

* kill -9 the leader: another process leads within ttl + one renew interval;
* SIGSTOP the leader until its successor is elected, then SIGCONT: its first fenced writes
  (a job outcome and a schedule fire) are refused by the store, and it notices the loss.

Each contender is this module run as a program (``python -m tests.test_leader_multiprocess``):
it prints one JSON event per line and obeys JSON commands on stdin; ``COMMANDS`` is the table
to extend (e.g. with a scheduler that fires schedules).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rota._clock import SYSTEM_CLOCK
from rota._ids import new_id
from rota._models import Fence, Finish, FireCommit, Job, JobFilter, JobStatus, Outcome, Schedule, schedule_key
from rota.runtime.leader import LeaderElection
from rota.stores.sqlite import SQLiteStore

TTL = 1.0
RENEW = TTL / 3  # the defaults: renew and retry every ttl/3, trust until ttl - ttl/10
ROOT = Path(__file__).resolve().parent.parent

# -- the contender program ------------------------------------------------------------------


@dataclass
class Contender:
    store: SQLiteStore
    election: LeaderElection
    state: dict[str, Any] = field(default_factory=dict)

    def emit(self, event: str, **data: Any) -> None:
        record = {"event": event, "id": self.election.instance_id, "pid": os.getpid(), "t": time.time()}
        print(json.dumps(record | data), flush=True)


async def cmd_prepare(c: Contender, _: dict[str, Any]) -> None:
    """As leader: note the fence, claim two jobs and lease the schedule; prove a fenced write
    works now (the control for cmd_write)."""
    fence = c.election.fence
    assert fence is not None, "prepare is sent to the leader"
    now = SYSTEM_CLOCK.now()
    hour = timedelta(hours=1)  # long job and schedule leases: only the fence can refuse
    jobs = await c.store.claim(
        queues=["default"], worker=c.election.instance_id, limit=2, lease_for=hour, now=now
    )
    [schedule] = await c.store.acquire_schedules(
        owner=c.election.instance_id, limit=1, lease_for=hour, now=now
    )
    [control] = await c.store.finish(
        [Finish(jobs[0].id, jobs[0].token, Outcome.SUCCEEDED, fence=fence)],
        worker=c.election.instance_id,
        now=now,
    )
    c.state.update(fence=fence, job=jobs[1], schedule=schedule)
    c.emit("prepared", control=control, token=fence.token, job=jobs[1].id)


async def cmd_write(c: Contender, _: dict[str, Any]) -> None:
    """Write with the fence noted in cmd_prepare (after a pause, it may be stale)."""
    fence: Fence = c.state["fence"]
    job: Job = c.state["job"]
    schedule: Schedule = c.state["schedule"]
    is_leader = c.election.is_leader  # local view, before any round trip
    now = SYSTEM_CLOCK.now()
    me = c.election.instance_id
    [finished] = await c.store.finish(
        [Finish(job.id, job.token, Outcome.SUCCEEDED, fence=fence)], worker=me, now=now
    )
    fire_time = schedule.next_fire_at or now
    key = schedule_key(schedule.id, fire_time)
    fire = Job(
        id=new_id(), task=schedule.task, due_at=fire_time, created_at=now, key=key, schedule_id=schedule.id,
        fire_time=fire_time,
    )  # fmt: skip
    commit = FireCommit(
        schedule.id, schedule.version, me, (fire,), next_fire_at=fire_time + timedelta(hours=1),
        last_fire_at=fire_time, fence=fence,
    )  # fmt: skip
    committed = await c.store.commit_fires(commit, now=now)
    c.emit("wrote", finish=finished, commit=committed, is_leader=is_leader)


COMMANDS: dict[str, Callable[[Contender, dict[str, Any]], Awaitable[None]]] = {
    "prepare": cmd_prepare,
    "write": cmd_write,
}


async def contender_main(db: str, instance_id: str, ttl: float) -> None:
    store = SQLiteStore(db)
    await store.open()
    election = LeaderElection(store, SYSTEM_CLOCK, instance_id, ttl=ttl)
    c = Contender(store, election)
    election.on_elected(lambda info: c.emit("elected", token=info.token))
    election.on_lost(lambda info: c.emit("lost", token=info.token))
    await election.start()
    c.emit("started")
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if command["cmd"] == "exit":
            break
        await COMMANDS[command["cmd"]](c, command)
    await election.stop()
    await store.close()


# -- the test side ----------------------------------------------------------------------------


@dataclass
class Proc:
    name: str
    process: asyncio.subprocess.Process
    reader: asyncio.Task[None] | None = None

    def send(self, cmd: str, **args: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps({"cmd": cmd} | args) + "\n").encode())


class Cluster:
    """Contender processes on one SQLite file, and the events they print, in arrival order."""

    def __init__(self, db: Path, logs: Path) -> None:
        self.db = db
        self.logs = logs
        self.procs: dict[str, Proc] = {}
        self.events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.seen: list[dict[str, Any]] = []  # every event, in arrival order
        self.pending: list[dict[str, Any]] = []  # received, not yet returned by expect

    async def spawn(self, name: str, ttl: float = TTL) -> Proc:
        stderr = (self.logs / f"{name}.log").open("wb")
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.test_leader_multiprocess", "--db", str(self.db), "--id", name,
            "--ttl", str(ttl), cwd=ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
        )  # fmt: skip
        stderr.close()
        proc = Proc(name, process)
        proc.reader = asyncio.ensure_future(self._read(proc))
        self.procs[name] = proc
        return proc

    async def _read(self, proc: Proc) -> None:
        assert proc.process.stdout is not None
        while line := await proc.process.stdout.readline():
            event = json.loads(line)
            event["at"] = time.monotonic()  # when the test saw it
            await self.events.put(event)

    async def expect(
        self, event: str, *, who: str | None = None, within: float = 5.0, **match: Any
    ) -> dict[str, Any]:
        """The first event of this kind (from ``who``) not yet expected, waiting at most
        ``within`` real seconds for it; events skipped on the way stay available."""

        def fits(e: dict[str, Any]) -> bool:
            return e["event"] == event and (who is None or e["id"] == who)

        got = next((e for e in self.pending if fits(e)), None)
        async with asyncio.timeout(within):
            while got is None:
                new = await self.events.get()
                self.seen.append(new)
                self.pending.append(new)
                got = new if fits(new) else None
        self.pending.remove(got)
        assert all(got[k] == v for k, v in match.items()), got
        return got

    def signal(self, name: str, sig: signal.Signals) -> None:
        os.kill(self.procs[name].process.pid, sig)

    async def close(self) -> None:
        for proc in self.procs.values():
            if proc.process.returncode is None:
                with_signal(proc, signal.SIGCONT)
                proc.process.kill()
            await proc.process.wait()
            if proc.reader is not None:
                await asyncio.gather(proc.reader, return_exceptions=True)

    def stderr(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{(self.logs / f'{p.name}.log').read_text()}" for p in self.procs.values()
        )


def with_signal(proc: Proc, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.process.pid, sig)


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    db = tmp_path / "rota.db"
    store = SQLiteStore(db)
    await store.open()  # migrate once, before the contenders race to
    await store.close()
    c = Cluster(db, tmp_path)
    try:
        yield c
    finally:
        await c.close()


@pytest.mark.slow
@pytest.mark.timeout(20)
async def test_kill_9_the_leader_and_another_process_leads_within_ttl_plus_renew(cluster: Cluster) -> None:
    for name in ("p1", "p2", "p3"):
        await cluster.spawn(name)
    first = await cluster.expect("elected", within=10)
    for _ in range(3):
        await cluster.expect("started", within=10)
    alive = set(cluster.procs) - {first["id"]}
    tokens = [first["token"]]
    failovers: list[float] = []
    leader = first
    for _ in range(2):
        await asyncio.sleep(2 * RENEW)  # let the leader renew at least once (not a wait for a condition)
        cluster.signal(leader["id"], signal.SIGKILL)
        killed_at = time.monotonic()
        nxt = await cluster.expect("elected", within=TTL + RENEW + 2)
        failovers.append(nxt["at"] - killed_at)
        assert nxt["id"] in alive, nxt
        tokens.append(nxt["token"])
        alive.discard(nxt["id"])
        leader = nxt
    print(f"failover after kill -9: {', '.join(f'{f * 1000:.0f} ms' for f in failovers)}")
    assert tokens == sorted(set(tokens))
    assert all(f <= TTL + RENEW for f in failovers), (failovers, cluster.stderr())
    store = SQLiteStore(cluster.db)
    await store.open()
    try:
        lease = await store.get_lease("leader:rota-scheduler", now=datetime.now(UTC))
        assert lease is not None and lease.owner == leader["id"] and lease.token == tokens[-1]
    finally:
        await store.close()


@pytest.mark.slow
@pytest.mark.timeout(20)
async def test_a_leader_paused_past_its_term_is_refused_by_the_store_when_it_resumes(
    cluster: Cluster,
) -> None:
    store = SQLiteStore(cluster.db)
    await store.open()
    try:
        now = datetime.now(UTC)
        await store.add([Job(id=new_id(), task="t", due_at=now, created_at=now) for _ in range(2)], now=now)
        await store.put_schedule(
            Schedule(id="hourly", task="t", trigger="interval:3600", next_fire_at=now), now=now
        )

        a = await cluster.spawn("a")
        await cluster.expect("elected", who="a", token=1, within=10)
        a.send("prepare")
        prepared = await cluster.expect(
            "prepared", who="a", control=True
        )  # a fenced write works while leading
        cluster.signal("a", signal.SIGSTOP)  # a freezes mid-term, holding its fence
        await cluster.spawn("b")
        await cluster.expect("elected", who="b", token=2, within=10)
        a.send("write")  # waits in the pipe until a runs again
        cluster.signal("a", signal.SIGCONT)
        wrote = await cluster.expect("wrote", who="a")
        assert (wrote["finish"], wrote["commit"]) == (False, False), "the store must refuse a stale fence"
        assert wrote["is_leader"] is False  # its monotonic deadline had passed during the pause
        lost = next((e for e in cluster.seen if e["event"] == "lost" and e["id"] == "a"), None)
        lost = lost or await cluster.expect("lost", who="a")
        assert lost["token"] == 1 and lost["t"] > prepared["t"]

        job = await store.get_job(prepared["job"])
        assert job is not None and job.status is JobStatus.RUNNING and job.lease_owner == "a"
        schedule = await store.get_schedule("hourly")
        assert schedule is not None and schedule.run_count == 0 and schedule.last_fire_at is None
        assert await store.list_jobs(JobFilter(schedule_id="hourly")) == []  # no fire materialised
        lease = await store.get_lease("leader:rota-scheduler", now=datetime.now(UTC))
        assert lease is not None and lease.owner == "b"
    finally:
        await store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="a leader-election contender for the tests")
    parser.add_argument("--db", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--ttl", type=float, default=TTL)
    args = parser.parse_args()
    asyncio.run(contender_main(args.db, args.id, args.ttl))


if __name__ == "__main__":
    main()
