"""Prometheus metrics in one process (memory store, fake clock): the counters and histograms
of known jobs, the gauges a worker reports, the queue depths and schedule lag only the leader
samples; the readiness checks as a list over real HTTP; nothing imported without the flags;
the CLI's one-line refusals."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry

import rota
from rota import App, LeaderSettings, RetryPolicy
from rota.cli import main
from rota.http import EndpointServer, endpoints_app
from rota.metrics import Metrics
from rota.runtime.looplag import LoopLag
from rota.runtime.probes import Check, Probes
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from tests.multiprocess._procs import ROOT

WAIT = 10


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    yield store
    await store.close()


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


async def test_counters_and_histograms_count_each_job_once(store: MemoryStore, clock: FakeClock) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    app = App(store=store, clock=clock, instance_id="w1")
    unsubscribe = metrics.observe(app)
    assert metrics.observe(app)() is None  # observing twice counts once
    tries: dict[int, int] = {}

    @app.task(name="ok", queue="q")
    async def ok(n: int) -> None: ...

    @app.task(name="flaky", queue="q", retry=RetryPolicy(attempts=2, base=0))
    async def flaky(n: int) -> None:
        tries[n] = tries.get(n, 0) + 1
        if tries[n] == 1:
            raise RuntimeError("first")

    @app.task(name="doomed", queue="q", retry=1)
    async def doomed() -> None:
        raise ValueError("no")

    await ok.enqueue(1, key="k1")
    await ok.enqueue(1, key="k1")  # a duplicate: no new job, not counted
    await ok.enqueue(2)
    await flaky.enqueue(3)
    await doomed.enqueue()
    pending = await ok.enqueue(4, delay=3600)
    await app.cancel(pending.id)  # cancelled while pending: not the end of a run
    await clock.advance(3)  # every due job waits 3 s for the worker: its pickup latency
    async with app.worker(concurrency=4):
        await app.wait_until_idle(timeout=WAIT)
    unsubscribe()

    def get(name: str, task: str, **labels: str) -> float | None:
        return sample(registry, name, task=task, queue="q", **labels)

    assert [get("rota_jobs_enqueued_total", t) for t in ("ok", "flaky", "doomed")] == [3, 1, 1]
    assert [get("rota_jobs_started_total", t) for t in ("ok", "flaky", "doomed")] == [2, 2, 1]
    outcomes = {
        (t, o): get("rota_job_outcomes_total", t, outcome=o)
        for t in ("ok", "flaky", "doomed")
        for o in ("succeeded", "retried", "failed", "cancelled", "released", "lease_lost")
    }
    assert {k: v for k, v in outcomes.items() if v} == {
        ("ok", "succeeded"): 2, ("flaky", "retried"): 1, ("flaky", "succeeded"): 1, ("doomed", "failed"): 1,
    }  # fmt: skip
    assert [get("rota_job_duration_seconds_count", t) for t in ("ok", "flaky", "doomed")] == [2, 2, 1]
    # handlers take no time on a fake clock; pickups: 3 s for the first attempts, 0 for the retry
    assert get("rota_job_duration_seconds_sum", "ok") == 0
    assert get("rota_job_pickup_latency_seconds_count", "flaky") == 2
    assert get("rota_job_pickup_latency_seconds_sum", "flaky") == 3.0
    assert get("rota_job_pickup_latency_seconds_bucket", "ok", le="2.5") == 0
    assert get("rota_job_pickup_latency_seconds_bucket", "ok", le="5.0") == 2
    await ok.enqueue(5)  # after unsubscribe(): not counted
    assert get("rota_jobs_enqueued_total", "ok") == 3


async def test_lost_leases_and_releases_are_outcomes_too(store: MemoryStore, clock: FakeClock) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    app = App(store=store, clock=clock, instance_id="w1")
    metrics.observe(app)
    running = asyncio.Event()

    @app.task(name="long")
    async def long(n: int) -> None:
        running.set()
        await asyncio.Event().wait()

    lost = await long.enqueue(1)
    async with app.worker(lease=30, grace=0):
        await asyncio.wait_for(running.wait(), WAIT)
        await app.cancel(lost.id)
        await clock.advance(10)  # the next heartbeat hears the lease is gone
        running.clear()
        await long.enqueue(2)  # still running at shutdown: released
        await asyncio.wait_for(running.wait(), WAIT)
    for outcome in ("lease_lost", "released"):
        assert sample(registry, "rota_job_outcomes_total", task="long", queue="default", outcome=outcome) == 1
    assert sample(registry, "rota_job_outcomes_total", task="long", queue="default", outcome="cancelled") == 0


async def test_worker_gauges_and_the_leaders_queue_samples(store: MemoryStore, clock: FakeClock) -> None:
    election = LeaderSettings(enabled=True)  # two processes' worth of workers on one store
    apps = [App(store=store, clock=clock, instance_id=name) for name in ("a", "b")]
    registries = [CollectorRegistry(), CollectorRegistry()]
    gate = asyncio.Event()
    started = asyncio.Event()
    for app in apps:

        @app.task(name="hold")
        async def hold(n: int) -> None:
            started.set()
            await gate.wait()

    await apps[0].enqueue("hold", 1)
    await apps[0].enqueue("hold", 2, delay=60)  # pending, due later: "delayed"
    soon = rota.At(clock.now() + timedelta(seconds=10))
    await apps[0].schedules.add("soon", task="hold", trigger=soon, payload=0)
    leader = apps[0].worker(concurrency=3, leader=election, scheduler=False)
    follower = apps[1].worker(concurrency=2, leader=election, scheduler=False)
    metrics = [Metrics(registry) for registry in registries]
    samplers = [metrics[0].watch(leader, interval=15), metrics[1].watch(follower, interval=15)]
    async with leader, follower, samplers[0], samplers[1]:
        await asyncio.wait_for(started.wait(), WAIT)
        assert leader.services.is_leader and not follower.services.is_leader
        for sampler in samplers:
            sampler.passed.clear()
        await clock.advance(40)  # the sampler's next passes; the schedule is 30 s overdue
        await asyncio.wait_for(asyncio.gather(*(s.passed.wait() for s in samplers)), WAIT)
        await samplers[0].sample()  # at exactly this time
        ra, rb = registries
        assert sample(ra, "rota_worker_slots") == 3 and sample(rb, "rota_worker_slots") == 2
        assert sample(ra, "rota_worker_running_jobs") == 1 and sample(rb, "rota_worker_running_jobs") == 0
        assert (sample(ra, "rota_leader"), sample(rb, "rota_leader")) == (1, 0)
        depth = {
            status: sample(ra, "rota_queue_jobs", queue="default", status=status)
            for status in ("pending", "delayed", "running", "succeeded", "failed", "cancelled")
        }
        assert depth == {
            "pending": 0,
            "delayed": 1,
            "running": 1,
            "succeeded": 0,
            "failed": 0,
            "cancelled": 0,
        }
        assert sample(ra, "rota_schedule_lag_seconds") == 30
        # only the leader reports the queues
        assert sample(rb, "rota_queue_jobs", queue="default", status="running") is None
        assert sample(rb, "rota_schedule_lag_seconds") == 0
        gate.set()
    assert sample(registries[0], "rota_queue_jobs", queue="default", status="running") is None  # cleared
    assert sample(registries[0], "rota_worker_slots") == 0  # no worker serves any more


async def test_readiness_is_a_list_of_checks_served_over_http(store: MemoryStore, clock: FakeClock) -> None:
    app = App(store=store, clock=clock, instance_id="w1")

    @app.task(name="ok")
    async def ok() -> None: ...

    worker = app.worker()
    lag = LoopLag()
    lag.start()
    probes = Probes(app.context, worker, loop_lag=lag, timeout=0.5)
    server = EndpointServer(endpoints_app(probes=probes), port=0)
    await server.start()
    try:
        status, body = await http_get(server.url + "/readyz")
        assert status == 503 and body["checks"]["worker"] == {
            "ok": False,
            "error": "the worker is not serving yet",
        }
        assert body["checks"]["registered"]["ok"] is False  # not in `rota workers` yet
        async with worker:
            status, body = await http_get(server.url + "/readyz")
            assert status == 200 and body["status"] == "ok" and body["tasks"] == ["ok"]
            assert body["executes_jobs"] is True and body["running_jobs"] == 0
            assert body["checks"]["registered"] == {"ok": True}
            warmed = asyncio.Event()

            async def is_warm() -> str | None:
                return None if warmed.is_set() else "caches not warm yet"

            async def hangs() -> str | None:
                await asyncio.Event().wait()
                return None

            probes.checks.append(Check("warm", is_warm))
            status, body = await http_get(server.url + "/readyz")
            assert status == 503 and body["checks"]["warm"] == {
                "ok": False,
                "error": "caches not warm yet",
            }
            warmed.set()
            assert (await http_get(server.url + "/readyz"))[0] == 200
            probes.checks.append(Check("hangs", hangs))
            status, body = await http_get(server.url + "/readyz")
            assert status == 503 and body["checks"]["hangs"] == {
                "ok": False,
                "error": "no answer within 0.5s",
            }
            status, body = await http_get(server.url + "/healthz")
            assert status == 200 and body["max_loop_lag_seconds"] == 5.0
        status, _ = await http_get(server.url + "/healthz")
        assert status == 200  # a stopped worker is not ready, but the process is alive
        assert (await http_get(server.url + "/metrics"))[0] == 404  # not asked for
    finally:
        await server.stop()
        await lag.stop()


async def http_get(url: str) -> tuple[int, dict[str, object]]:
    def get() -> tuple[int, dict[str, object]]:
        try:
            with urllib.request.urlopen(url, timeout=10) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            body = exc.read()
            return exc.code, json.loads(body) if body.startswith(b"{") else {}

    return await asyncio.to_thread(get)


# -- zero cost when off --------------------------------------------------------------------------


def test_a_worker_without_the_flags_imports_no_metrics_or_web_library() -> None:
    code = """
import asyncio, sys
from rota import App
import rota.cli, rota.cli.worker

async def main():
    app = App("memory://")

    @app.task(name="ok")
    async def ok() -> None: ...

    await ok.enqueue()
    async with app.worker():
        await app.wait_until_idle(timeout=10)
    await app.close()

asyncio.run(main())
loaded = sorted({"prometheus_client", "starlette", "uvicorn", "rota.metrics", "rota.http"} & set(sys.modules))
print(",".join(loaded))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert done.stdout.strip() == "", done.stdout


# -- the CLI -----------------------------------------------------------------------------------

APP = "tests.cli_app:app"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "missing", "extra"),
    [
        (["--metrics-port", "9"], "prometheus_client", "rota[prometheus,web]"),
        (["--health-port", "9"], "uvicorn", "rota[web]"),
        (["--metrics-port", "9"], "starlette", "rota[prometheus,web]"),
    ],
)
def test_a_port_flag_without_its_extra_is_one_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    missing: str,
    extra: str,
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # importing it now raises ImportError
    code, err = run_cli(capsys, "worker", APP, "--store", "memory://", *flags)
    assert code == 1
    assert (
        err.strip()
        == f"rota: error: {flags[0]} needs {missing}, which is not installed: pip install '{extra}'"
    )


def test_a_port_in_use_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = run_cli(capsys, "worker", APP, "--store", "memory://", "--health-port", str(port))
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith(f"rota: error: cannot listen on 127.0.0.1:{port}: "), err


@pytest.mark.parametrize(
    "flags",
    [["--metrics-port", "70000"], ["--health-port", "-1"], ["--health-port", "x"], ["--max-loop-lag", "0"]],
)
def test_bad_endpoint_flags_are_usage_errors(capsys: pytest.CaptureFixture[str], flags: list[str]) -> None:
    code, err = run_cli(capsys, "worker", APP, "--store", "memory://", *flags)
    assert code == 1 and len(err.strip().splitlines()) == 1 and flags[0] in err


def test_the_clis_defaults_are_the_modules_own() -> None:
    import rota.cli.worker as cli
    import rota.http
    import rota.metrics

    assert cli.DEFAULT_HOST == rota.http.DEFAULT_HOST
    assert cli.SAMPLE_INTERVAL == rota.metrics.SAMPLE_INTERVAL
