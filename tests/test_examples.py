"""Every example under examples/ runs end to end, as its README tells a user to run it: real
processes, a temporary folder, the embedded SQLite store or a real Redis server.

These drive real processes, so they wait for real events (a line printed, a process exiting,
the store going idle) with deadlines; none sleeps to wait for a condition."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pytest

import rota
from tests.multiprocess._procs import ROOT
from tests.servers._common import free_port
from tests.servers.redis import with_prefix

EXAMPLES = ROOT / "examples"
DEADLINE = 30.0  # seconds for any one expected event; generous for a loaded 2-core machine


class Proc:
    """A running example process whose output lines are read as they come."""

    def __init__(self, args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        self.args = args
        self.popen = subprocess.Popen(
            [sys.executable, *args], cwd=cwd, env=full_env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.popen.stdout is not None
        with self.popen.stdout:  # closed at EOF, when the process has exited
            for line in self.popen.stdout:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str, timeout: float = DEADLINE) -> re.Match[str]:
        """The first line from now on that matches ``pattern``; fails after ``timeout``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout  # for the match, not for each line
        read_before = len(self.lines)
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"{self.args}: no line matching {pattern!r} within {timeout:.1f}s"
                                     + self._earlier(regex, read_before) + ":\n"
                                     + "\n".join(self.lines[-30:])) from None  # fmt: skip
            if line is None:
                self.popen.wait()
                raise AssertionError(
                    f"{self.args} exited ({self.popen.returncode}) before printing {pattern!r}:\n"
                    + "\n".join(self.lines[-30:])
                )
            self.lines.append(line)
            match = regex.search(line)
            if match:
                return match

    def _earlier(self, regex: re.Pattern[str], read_before: int) -> str:
        """Where the pattern matched a line read before the wait began: a test that waited
        for events in the wrong order fails saying so."""
        hits = [n for n, line in enumerate(self.lines[:read_before], 1) if regex.search(line)]
        return f" (line {hits[-1]} of the output, read before this wait, matches it)" if hits else ""

    def expect_all(self, *patterns: str, timeout: float = DEADLINE) -> list[re.Match[str]]:
        """Lines from now on until each of ``patterns`` has matched one, in whatever order they
        come (events of independent timers); the matches in the order of ``patterns``."""
        regexes = [re.compile(pattern) for pattern in patterns]
        found: dict[int, re.Match[str]] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(regexes):
            missing = [patterns[i] for i in range(len(regexes)) if i not in found]
            remaining = max(0.0, deadline - time.monotonic())
            match = self.expect("|".join(f"(?:{pattern})" for pattern in missing), timeout=remaining)
            line = match.string
            for i, regex in enumerate(regexes):
                if i not in found and (hit := regex.search(line)) is not None:
                    found[i] = hit
                    break
        return [found[i] for i in range(len(regexes))]

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        """Send ``sig`` and wait for the exit; the rest of the output is read into ``lines``."""
        if self.popen.poll() is None:
            self.popen.send_signal(sig)
        code = self.popen.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return code

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait(timeout=DEADLINE)
        self._reader.join(timeout=DEADLINE)


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> str:
    """Run an example script to completion; its output, after checking it exited 0."""
    done = subprocess.run(
        [sys.executable, *args], cwd=cwd, env={**os.environ, **(env or {})}, text=True,
        capture_output=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture
def procs() -> list[Proc]:
    """Processes a test starts; any still running at the end is killed."""
    started: list[Proc] = []
    yield started  # type: ignore[misc]
    for proc in started:
        proc.kill()


def start(procs: list[Proc], args: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> Proc:
    proc = Proc(args, cwd=cwd, env=env)
    procs.append(proc)
    return proc


def test_every_example_has_a_readme_and_a_test() -> None:
    examples = sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))
    assert examples == [
        "django_shop", "fastapi_app", "leader_cron", "observers", "recurring", "redis_delayed", "worker_pool",
    ]  # fmt: skip
    source = Path(__file__).read_text("utf-8")
    for name in examples:
        assert (EXAMPLES / name / "README.md").is_file(), name
        assert f'EXAMPLES / "{name}"' in source, f"examples/{name} has no test here"


# -- observers: memory store, status observers, waiting, linear/backpressure retries ----------


def test_observers_example() -> None:
    out = run([str(EXAMPLES / "observers" / "observers.py")], cwd=EXAMPLES / "observers")
    lines = out.splitlines()
    # every status change was observed, with the error and the retry delay
    assert sum(line.startswith("enqueued  make_thumbnail") for line in lines) == 3
    assert re.search(r"^retrying  make_thumbnail .*storage timed out reading cat.png  \(again in 0\.\d+s\)$",
                     out, re.MULTILINE)  # fmt: skip
    assert re.search(r"^failed    notify .*mail server refused ada@example.com$", out, re.MULTILINE)
    # the batch was waited for, retries included: each job's history as the policies dictate
    assert re.search(r'"cat.png".*succeeded attempts: failed, failed, succeeded$', out, re.MULTILINE)
    assert re.search(r'"dog.png".*succeeded attempts: failed, succeeded$', out, re.MULTILINE)
    assert re.search(r'"owl.png".*succeeded attempts: succeeded$', out, re.MULTILINE)
    assert re.search(r'"ada@example.com".*failed    attempts: failed, failed, failed$', out, re.MULTILINE)
    # then the whole queue went idle: nothing pending, every word counted (20 texts of 7 words)
    assert "   idle: 23 succeeded, 1 failed, 0 pending" in lines
    assert "   words counted: 140" in lines


# -- worker_pool: typed jobs, demand-driven pool, visibility timeout, graceful shutdown -------


@pytest.mark.slow
def test_worker_pool_example_recovers_a_killed_workers_jobs(tmp_path: Path, procs: list[Proc]) -> None:
    example = EXAMPLES / "worker_pool"
    assert run([str(example / "enqueue.py"), "12"], cwd=tmp_path).strip() == "queued 12 emails"
    assert run([str(example / "enqueue.py"), "12"], cwd=tmp_path).strip() == "queued 12 emails"  # deduped
    worker = [str(example / "worker.py"), "--concurrency", "4", "--lease", "1"]

    # a worker killed mid-send: its four jobs are leased, none finished
    crashed = start(procs, worker, cwd=tmp_path, env={"SEND_SECONDS": "5"})
    killed = {crashed.expect(r"^started +(\w{6}) \((\d) running\)").group(1) for _ in range(4)}
    crashed.stop(signal.SIGKILL)

    # another worker sends everything, the killed worker's jobs once their lease expired
    finisher = start(procs, worker, cwd=tmp_path, env={"SEND_SECONDS": "0.05"})
    finisher.expect(r"^worker .* serving email")
    history = asyncio.run(settle(f"sqlite:///{tmp_path / 'rota.db'}"))
    assert finisher.stop(signal.SIGTERM) == 0
    running = [re.search(r"\((\d+) running\)", line) for line in finisher.lines]
    assert max(int(m.group(1)) for m in running if m) <= 4  # never more jobs than slots

    assert len(history) == 12
    assert all(job.status is rota.JobStatus.SUCCEEDED for job, _ in history)
    for job, attempts in history:
        outcomes = [a.outcome for a in attempts]
        if job.id[-6:] in killed:  # the dead worker's attempt is on record, then the success
            assert outcomes == [rota.Outcome.LEASE_LOST, rota.Outcome.SUCCEEDED], (job.id, outcomes)
        else:
            assert outcomes == [rota.Outcome.SUCCEEDED], (job.id, outcomes)
    sent = Counter((tmp_path / "outbox.txt").read_text("utf-8").splitlines())
    assert sorted(sent) == sorted(f"user-{n} user-{n}@example.com" for n in range(12))
    assert set(sent.values()) == {1}  # nobody got two emails: the killed sends never completed


@pytest.mark.slow
@pytest.mark.parametrize("grace", ["0", "10"])
def test_worker_pool_example_shuts_down_gracefully(tmp_path: Path, procs: list[Proc], grace: str) -> None:
    """SIGTERM while sending: with grace 0 the runs are given back at once (pending, the
    attempt not spent); with grace 10 they finish and their outcomes are written. Either way
    nothing is left running for its lease to expire, and nothing is sent twice."""
    example = EXAMPLES / "worker_pool"
    run([str(example / "enqueue.py"), "8"], cwd=tmp_path)
    worker = [str(example / "worker.py"), "--concurrency", "4", "--lease", "30", "--grace", grace]
    stopped = start(procs, worker, cwd=tmp_path, env={"SEND_SECONDS": "1"})
    started = {stopped.expect(r"^started +(\w{6})").group(1) for _ in range(4)}
    assert stopped.stop(signal.SIGTERM) == 0
    released = {m.group(1) for line in stopped.lines if (m := re.match(r"^released +(\w{6})", line))}
    if grace == "0":
        assert released == started, stopped.lines
        assert stopped.lines[-1] == "stopped: 0 sent, 4 given back"
    else:
        assert not released, stopped.lines

    async def states() -> Counter[rota.JobStatus]:
        async with rota.App(f"sqlite:///{tmp_path / 'rota.db'}") as app:
            return Counter(job.status for job in await app.list_jobs())

    counts = asyncio.run(states())
    assert counts[rota.JobStatus.RUNNING] == 0, counts  # nothing waits for a lease to expire
    outbox = tmp_path / "outbox.txt"
    sent = outbox.read_text("utf-8").splitlines() if outbox.exists() else []
    assert counts[rota.JobStatus.SUCCEEDED] == len(sent), (counts, sent)  # every send recorded

    # a new worker sends the rest, each email once
    finisher = start(procs, worker, cwd=tmp_path, env={"SEND_SECONDS": "0.05"})
    finisher.expect(r"^worker .* serving email")
    history = asyncio.run(settle(f"sqlite:///{tmp_path / 'rota.db'}"))
    assert finisher.stop(signal.SIGTERM) == 0
    assert all(job.status is rota.JobStatus.SUCCEEDED and job.attempts == 1 for job, _ in history)
    assert sorted(outbox.read_text("utf-8").splitlines()) == sorted(
        f"user-{n} user-{n}@example.com" for n in range(8)
    )


async def settle(url: str) -> list[tuple[rota.Job, list[rota.Attempt]]]:
    """Wait (from this process, reading the store) until the email queue is idle: nothing
    running, nothing due; then every job with its attempt history."""
    async with rota.App(url) as app:
        await app.wait_until_idle(timeout=DEADLINE, queues=["email"])
        return [(job, await app.attempts(job.id)) for job in await app.list_jobs()]


# -- recurring: cron / interval / one-time on Redis, a lock, pause/resume/remove --------------


@pytest.mark.redis
@pytest.mark.slow
def test_recurring_example(redis_url: str, procs: list[Proc]) -> None:
    example = EXAMPLES / "recurring"
    env = {"ROTA_STORE_URL": with_prefix(redis_url, f"ex{uuid.uuid4().hex[:10]}")}
    worker = start(procs, ["-m", "rota.cli", "worker", "jobs:app"], cwd=example, env=env)
    # The interval job fires on even seconds, the cron job on multiples of 5: which prints
    # first depends on the second the worker starts in (a worker started at :04.5 times the
    # cron job out at :06.0, before the sync of :06 succeeds at :06.2).
    # The cron job's first run hangs: its 1 s timeout cancels it and the retry succeeds.
    timed_out = r"^retrying  refresh_rates  TimeoutError: timed out after 1s$"
    worker.expect_all(r"^succeeded sync_inventory$", timed_out)
    worker.expect(r"^succeeded refresh_rates$")

    listing = run(["manage.py", "list"], cwd=example, env=env)
    assert re.search(r"^refresh-rates +cron '\*/5 \* \* \* \* \*' in Europe/Berlin.* active .* runs [1-9]",
                     listing, re.MULTILINE), listing  # fmt: skip
    assert re.search(r"^sync-inventory +every 2 seconds +active .* runs [1-9]", listing, re.M), listing

    paused = run(["manage.py", "pause", "sync-inventory"], cwd=example, env=env)
    assert re.search(r"^sync-inventory .* paused  next - ", paused), paused
    assert "paused" in run(["manage.py", "list"], cwd=example, env=env)
    resumed = run(["manage.py", "resume", "sync-inventory"], cwd=example, env=env)
    assert re.search(r"^sync-inventory .* active  next \d\d:\d\d:\d\d UTC", resumed), resumed

    run(["manage.py", "once", "1", "hello from the test"], cwd=example, env=env)
    worker.expect(r"^announcement: hello from the test$")
    worker.expect(r"^succeeded announce$")
    listing = run(["manage.py", "list"], cwd=example, env=env)
    launch = [line for line in listing.splitlines() if line.startswith("launch ")]
    assert len(launch) == 1 and "next - " in launch[0] and "runs 1," in launch[0], launch
    assert run(["manage.py", "remove", "launch"], cwd=example, env=env).strip() == "removed launch"
    assert "launch" not in run(["manage.py", "list"], cwd=example, env=env)

    # the rebuild takes the lock the interval job holds while it runs, and completes
    assert run(["manage.py", "rebuild"], cwd=example, env=env).strip().splitlines()[-1].startswith("queued ")
    worker.expect(r"^succeeded rebuild_inventory$")

    # an unknown schedule is one line on stderr and exit code 1
    done = subprocess.run(
        [sys.executable, "manage.py", "pause", "nope"], cwd=example, env={**os.environ, **env},
        capture_output=True, text=True, timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert done.returncode == 1 and re.fullmatch(r"error: no schedule .*'nope'\n", done.stderr), done.stderr
    assert worker.stop(signal.SIGTERM) == 0


# -- redis_delayed: a producer and a consumer of delayed jobs ---------------------------------


@pytest.mark.redis
@pytest.mark.slow
def test_redis_delayed_example(redis_url: str, procs: list[Proc]) -> None:
    example = EXAMPLES / "redis_delayed"
    env = {"ROTA_STORE_URL": with_prefix(redis_url, f"ex{uuid.uuid4().hex[:10]}")}
    # the producer runs first: the jobs wait in Redis for a consumer
    first = run(["producer.py", "3", "1"], cwd=example, env=env).splitlines()
    again = run(["producer.py", "3", "1"], cwd=example, env=env).splitlines()
    assert len(first) == 3 and again == first  # same ids and due times: the keys dedupe

    consumer = start(procs, ["consumer.py"], cwd=example, env=env)
    consumer.expect(r"^consumer .* waiting for reminders$")
    lateness = {}
    for _ in range(3):
        match = consumer.expect(r"^reminded (user-\d): your trial ends tomorrow \((-?\d+) ms after its due")
        lateness[match.group(1)] = int(match.group(2))
    assert sorted(lateness) == ["user-1", "user-2", "user-3"]
    assert all(ms >= 0 for ms in lateness.values()), lateness  # never before its due time
    assert consumer.stop(signal.SIGTERM) == 0
    assert consumer.lines[-1] == "consumer stopped"
    assert sum(line.startswith("reminded ") for line in consumer.lines) == 3  # each ran once


# -- the web examples: real HTTP to the example's own server ----------------------------------


#: uvicorn (0.29+) ends a graceful shutdown by re-raising the signal it caught, so the exit
#: status is the signal's; the log lines say whether the shutdown completed
UVICORN_STOPPED = (0, -signal.SIGTERM)


def http(method: str, url: str, body: object = None) -> tuple[int, dict[str, object]]:
    """One request to an example's server (127.0.0.1); the status and the JSON answer."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=DEADLINE) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# -- leader_cron: leader-only cron service with a health endpoint -----------------------------


@pytest.mark.slow
def test_leader_cron_example(tmp_path: Path, procs: list[Proc]) -> None:
    service = str(EXAMPLES / "leader_cron" / "service.py")
    port_a, port_b = free_port(), free_port()
    a = start(procs, [service, "--port", str(port_a)], cwd=tmp_path, env={"ROTA_INSTANCE_ID": "cron-a"})
    a.expect(r"cron-a leads rota-scheduler")
    a.expect(r"Uvicorn running on")  # listening (after the lifespan's startup)
    b = start(procs, [service, "--port", str(port_b)], cwd=tmp_path, env={"ROTA_INSTANCE_ID": "cron-b"})
    b.expect(r"Uvicorn running on")
    a.expect(r"^report by cron-a ")

    status, health_a = http("GET", f"http://127.0.0.1:{port_a}/health")
    assert status == 200 and health_a["leader"] is True and health_a["leader_id"] == "cron-a", health_a
    assert health_a["fires_schedules"] is True and health_a["executes_jobs"] is True
    status, health_b = http("GET", f"http://127.0.0.1:{port_b}/health")
    assert status == 200 and health_b["leader"] is False and health_b["leader_id"] == "cron-a", health_b
    assert health_b["fires_schedules"] is False and health_b["executes_jobs"] is False  # a hot standby

    # the leader stops gracefully: it gives up its lease and the standby takes over
    assert a.stop(signal.SIGTERM) in UVICORN_STOPPED
    assert "Finished server process" in a.lines[-1], a.lines
    b.expect(r"cron-b leads rota-scheduler")
    b.expect(r"^report by cron-b ")
    status, health_b = http("GET", f"http://127.0.0.1:{port_b}/health")
    assert health_b["leader"] is True and health_b["leader_id"] == "cron-b", health_b
    assert b.stop(signal.SIGTERM) in UVICORN_STOPPED

    took_over = next(n for n, line in enumerate(b.lines) if "cron-b leads" in line)
    assert not any(line.startswith("report by") for line in b.lines[:took_over])  # standbys run nothing
    reports = [line for proc in (a, b) for line in proc.lines if line.startswith("report by")]

    async def fires() -> list[rota.Job]:
        async with rota.App(f"sqlite:///{tmp_path / 'rota.db'}") as app:
            return await app.list_jobs(status="succeeded", limit=1000)

    jobs = asyncio.run(fires())
    assert len(jobs) == len(reports)  # each succeeded fire reported once
    assert len({job.key for job in jobs}) == len(jobs)  # one job per fire, across both instances


# -- fastapi_app: endpoints enqueue, an in-process worker runs the jobs -----------------------


@pytest.mark.slow
def test_fastapi_app_example(tmp_path: Path, procs: list[Proc]) -> None:
    port = free_port()
    env = {"ROTA_STORE_URL": f"sqlite:///{tmp_path / 'rota.db'}"}
    server = start(
        procs, ["-m", "uvicorn", "main:api", "--port", str(port)], cwd=EXAMPLES / "fastapi_app", env=env
    )
    server.expect(r"Uvicorn running on")
    base = f"http://127.0.0.1:{port}"

    signup = {"email": "ada@example.com", "name": "Ada"}
    status, queued = http("POST", f"{base}/signups", signup)
    assert status == 202 and queued["status"] == "pending", queued
    assert http("POST", f"{base}/signups", signup)[1]["job"] == queued["job"]  # the key dedupes
    assert http("POST", f"{base}/signups", {"email": "x"})[0] == 422  # refused before queueing
    server.expect(r"^welcome email sent to Ada <ada@example\.com>$")

    async def settled() -> None:
        async with rota.App(env["ROTA_STORE_URL"]) as app:
            await app.wait_until_idle(timeout=DEADLINE)

    asyncio.run(settled())
    assert http("GET", f"{base}/jobs/{queued['job']}") == (
        200, {"job": queued["job"], "status": "succeeded", "attempts": 1, "result": "ada@example.com"},
    )  # fmt: skip
    assert http("GET", f"{base}/jobs/nope")[0] == 404
    assert server.stop(signal.SIGTERM) in UVICORN_STOPPED
    assert any("Application shutdown complete" in line for line in server.lines), server.lines
    assert sum("welcome email sent" in line for line in server.lines) == 1


# -- django_shop: enqueue_on_commit from a view, manage.py rota_worker ------------------------


@pytest.mark.slow
def test_django_shop_example(tmp_path: Path, procs: list[Proc]) -> None:
    manage = str(EXAMPLES / "django_shop" / "manage.py")
    run([manage, "migrate", "--noinput"], cwd=tmp_path)
    worker = start(procs, [manage, "rota_worker"], cwd=tmp_path)
    worker.expect(r"worker .* serving queues default")
    port = free_port()
    web = start(procs, [manage, "runserver", f"127.0.0.1:{port}", "--noreload"], cwd=tmp_path)
    web.expect(r"Quit the server with")
    base = f"http://127.0.0.1:{port}"

    assert http("POST", f"{base}/orders", {"email": "ada@example.com"}) == (201, {"order": 1})
    assert http("POST", f"{base}/orders", {"email": "bob@example.com", "card": "declined"}) == (
        402, {"error": "payment declined"},
    )  # fmt: skip
    status, cy = http("POST", f"{base}/orders", {"email": "cy@example.com"})
    assert status == 201
    sent = {worker.expect(r"^receipt for order (\d+) sent to (\S+)$").groups() for _ in range(2)}
    assert sent == {("1", "ada@example.com"), (str(cy["order"]), "cy@example.com")}

    async def settled() -> None:
        async with rota.App(f"sqlite:///{tmp_path / 'rota.db'}") as app:
            await app.wait_until_idle(timeout=DEADLINE, queues=["default"])

    asyncio.run(settled())
    assert http("GET", f"{base}/orders/1")[1]["status"] == "receipt sent"
    assert http("GET", f"{base}/queue") == (200, {"succeeded": 2})
    assert worker.stop(signal.SIGTERM) == 0
    assert not any("bob@example.com" in line for line in worker.lines)  # rolled back with its job
    web.stop(signal.SIGTERM)
