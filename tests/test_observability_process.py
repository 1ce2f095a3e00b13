"""A real ``rota worker`` process with ``--metrics-port``, ``--health-port`` and ``--log-format
json``, on Redis: ``/metrics`` scraped over HTTP counts exactly the outcomes of known jobs, the
JSON log lines parse and name every job, ``/healthz`` notices a blocked event loop, and
``/readyz`` turns unready while the store's server is down and ready again once it is back.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rota import App, RetryPolicy
from tests.multiprocess._procs import rota_process
from tests.servers._common import find_binary, unavailable
from tests.servers.redis import RedisServer, with_prefix

pytestmark = [pytest.mark.slow, pytest.mark.redis]

APP = "tests.multiprocess.observe_app:app"
WAIT = 30.0  # real seconds for a process to do what the test waits for


class JsonLog:
    """Reads a process's stderr on a thread: every line must be one JSON object."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.records: list[dict[str, Any]] = []
        self.bad: list[str] = []
        self._changed = threading.Condition()
        assert proc.stderr is not None
        self._stream = proc.stderr
        self._thread = threading.Thread(target=self._read, args=(proc.stderr,), daemon=True)
        self._thread.start()

    def _read(self, stream: Any) -> None:
        for line in stream:
            with self._changed:
                try:
                    record = json.loads(line)
                    assert isinstance(record, dict)
                    self.records.append(record)
                except (ValueError, AssertionError):
                    self.bad.append(line)
                self._changed.notify_all()
        with self._changed:
            self.records.append({"event": "<eof>"})
            self._changed.notify_all()

    def close(self) -> None:
        """Once the process has exited: the rest of its lines, then the pipe closed."""
        self._thread.join(timeout=WAIT)
        self._stream.close()

    def wait_for(self, wanted: Callable[[list[dict[str, Any]]], bool], what: str) -> None:
        def done() -> bool:
            return wanted(self.records) or any(r.get("event") == "<eof>" for r in self.records)

        with self._changed:
            self._changed.wait_for(done, timeout=WAIT)
            assert wanted(self.records), f"no {what} in the log:\n{self.text()}"

    def of(self, event: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r.get("event") == event]

    def text(self) -> str:
        return "\n".join(json.dumps(r) for r in self.records[-40:]) + "".join(self.bad)


def get(url: str) -> tuple[int, str]:
    """GET ``url`` over real HTTP: status and body (503 answers too)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


async def aget(url: str) -> tuple[int, str]:
    return await asyncio.to_thread(get, url)


def start_worker(url: str, *extra: str) -> tuple[subprocess.Popen[str], JsonLog, str]:
    """A worker serving metrics and probes on one free port; its log, its base URL."""
    args = ["worker", APP, "--no-scheduler", "--log-format", "json", "--log-level", "info"]
    ports = ["--metrics-port", "0", "--health-port", "0"]  # 0 and 0: one free port for both
    proc = rota_process([*args, *ports, *extra], {"ROTA_STORE_URL": url})
    log = JsonLog(proc)
    log.wait_for(lambda rs: any("/metrics" in r.get("paths", ()) for r in rs), "serving line")
    [serving] = [r for r in log.records if "paths" in r]
    assert serving["paths"] == ["/healthz", "/readyz", "/metrics"]
    return proc, log, serving["url"]


def stop(proc: subprocess.Popen[str], log: JsonLog) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=WAIT)
    log.close()
    assert proc.stdout is not None
    proc.stdout.close()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The exposition's samples by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    return found.get((name, frozenset({"queue": "default", **labels}.items())), 0.0)


def producer(url: str) -> tuple[App, dict[str, Any]]:
    """An app with the worker's tasks (same names and retry policies) and one it lacks."""
    app = App(url)
    now = RetryPolicy(attempts=3, base=0)
    tasks: dict[str, Any] = {}
    for name, retry in (("obs.ok", 1), ("obs.flaky", now), ("obs.doomed", RetryPolicy(attempts=2, base=0))):

        async def handler(n: int) -> None: ...

        tasks[name] = app.task(name=name, retry=retry)(handler)

    async def unknown(n: int) -> None: ...

    async def block(seconds: float) -> None: ...

    tasks["obs.unknown"] = app.task(name="obs.unknown", retry=1)(unknown)
    tasks["obs.block"] = app.task(name="obs.block")(block)
    return app, tasks


async def test_metrics_count_exactly_the_outcomes_and_json_logs_name_every_job(redis_url: str) -> None:
    url = with_prefix(redis_url, f"obs{uuid.uuid4().hex[:10]}")
    app, tasks = producer(url)
    ids: dict[str, list[str]] = {name: [] for name in tasks}
    async with app:
        for n in range(5):
            ids["obs.ok"].append((await tasks["obs.ok"].enqueue(n)).id)
        for n in range(3):
            ids["obs.flaky"].append((await tasks["obs.flaky"].enqueue(n)).id)
        for n in range(2):
            ids["obs.doomed"].append((await tasks["obs.doomed"].enqueue(n)).id)
        ids["obs.unknown"].append((await tasks["obs.unknown"].enqueue(0)).id)
    proc, log, base = start_worker(url, "--max-loop-lag", "0.3")
    try:
        # 5 + 3 + 0 successes, 3 + 2 retries, 2 + 1 dead: 16 outcome records
        ends = ("succeeded", "retrying", "failed")
        log.wait_for(lambda rs: sum(r.get("event") in ends for r in rs) >= 16, "16 outcomes")
        status, text = await aget(base + "/metrics")
        assert status == 200
        found = samples(text)
        expected = {
            # task: started, succeeded, retried, failed, duration count
            "obs.ok": (5, 5, 0, 0, 5),
            "obs.flaky": (6, 3, 3, 0, 6),
            "obs.doomed": (4, 0, 2, 2, 4),
            "obs.unknown": (0, 0, 0, 1, 0),  # never started: no duration
        }
        for task, (started, succeeded, retried, failed, timed) in expected.items():
            got = (
                value(found, "rota_jobs_started_total", task=task),
                value(found, "rota_job_outcomes_total", task=task, outcome="succeeded"),
                value(found, "rota_job_outcomes_total", task=task, outcome="retried"),
                value(found, "rota_job_outcomes_total", task=task, outcome="failed"),
                value(found, "rota_job_duration_seconds_count", task=task),
            )
            assert got == (started, succeeded, retried, failed, timed), (task, got)
            assert value(found, "rota_job_pickup_latency_seconds_count", task=task) == started
            for outcome in ("cancelled", "released", "lease_lost"):
                assert value(found, "rota_job_outcomes_total", task=task, outcome=outcome) == 0
        assert found[("rota_worker_slots", frozenset())] == 10
        assert found[("rota_worker_running_jobs", frozenset())] == 0
        assert found[("rota_leader", frozenset())] == 1  # the only worker leads

        # the JSON lines: every job's start and end, with its id and fields
        assert not log.bad, log.bad
        every = {job_id for group in ids.values() for job_id in group}
        ended = {r["job_id"] for r in log.records if r.get("event") in ends}
        assert ended == every
        started = {r["job_id"] for r in log.of("started")}
        assert started == every - set(ids["obs.unknown"])
        [unknown] = [r for r in log.records if r.get("task") == "obs.unknown"]
        assert (unknown["level"], unknown["event"]) == ("ERROR", "failed")
        assert unknown["error_type"] == "TaskNotFound"
        assert "unknown task" in unknown["message"]
        dead = [r for r in log.of("failed") if r["task"] == "obs.doomed"]
        assert {r["level"] for r in dead} == {"ERROR"} and all("ValueError" in r["error"] for r in dead)
        retries = log.of("retrying")
        assert {r["level"] for r in retries} == {"WARNING"} and all(r["retry_in"] == 0 for r in retries)
        for record in log.of("succeeded"):
            assert record["level"] == "INFO" and record["duration"] >= 0
            assert record["queue"] == "default" and record["worker"] and record["attempt"] >= 1

        # liveness: fine, then failing once a handler blocks the loop for 1 s (> 0.3 s)
        status, body = await aget(base + "/healthz")
        assert status == 200, body
        health = json.loads(body)
        assert health["status"] == "ok" and health["is_leader"] is True and "obs.ok" in health["tasks"]
        again, again_tasks = producer(url)
        async with again:
            await again_tasks["obs.block"].enqueue(1.0)
        log.wait_for(
            lambda rs: any(r.get("task") == "obs.block" and r.get("event") == "succeeded" for r in rs),
            "block",
        )
        status, body = await aget(base + "/healthz")
        assert status == 503, body
        assert json.loads(body)["loop_lag_seconds"] >= 0.3
        status, _ = await aget(base + "/readyz")
        assert status == 200  # readiness is about the store and the worker, not the lag
    finally:
        stop(proc, log)
    assert proc.returncode == 0, log.text()


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A private server this test stops and starts again."""
    if find_binary("redis-server") is None:
        unavailable("redis", "redis-server not found")
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


async def poll(url: str, status: int) -> dict[str, Any]:
    """GET ``url`` until it answers ``status`` (a process's state changing under real time)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while True:
        got, body = await aget(url)
        if got == status:
            answer: dict[str, Any] = json.loads(body)
            return answer
        assert loop.time() < deadline, f"{url} still answers {got}: {body}"
        await asyncio.sleep(0.1)


async def test_readiness_follows_the_store_server_down_and_back(own_redis: RedisServer) -> None:
    proc, log, base = start_worker(with_prefix(own_redis.url, "ready"))
    try:
        ready = await poll(base + "/readyz", 200)
        assert ready["checks"] == {"store": {"ok": True}, "worker": {"ok": True}, "registered": {"ok": True}}
        assert ready["is_leader"] is True and ready["leader"]["id"] == ready["instance_id"]
        assert ready["executes_jobs"] is True and ready["fires_schedules"] is False
        own_redis.stop()
        try:
            down = await poll(base + "/readyz", 503)
            assert down["checks"]["store"]["ok"] is False and down["checks"]["worker"] == {"ok": True}
            assert down["status"] == "failing" and down["checks"]["store"]["error"]
            status, _ = await aget(base + "/healthz")
            assert status == 200  # a store outage is no reason to restart the worker
        finally:
            own_redis.start()
        back = await poll(base + "/readyz", 200)
        assert back["checks"]["store"] == {"ok": True}
    finally:
        stop(proc, log)
    assert proc.returncode == 0, log.text()
    # the outage is one warning when it starts, not one per retry
    outages = [r for r in log.records if "store unavailable" in r.get("message", "")]
    assert len(outages) == 1, log.text()
