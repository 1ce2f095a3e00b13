"""Tracing in one process (OpenTelemetry SDK, in-memory exporter): the producer spans of an
enqueue, the consumer span of each run linked to them through the job's headers, the
messaging attributes, errors recorded; tracing off costs nothing and imports nothing."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

import rota
from rota import App, JobContext
from rota.stores.memory import MemoryStore
from rota.sync import SyncApp
from rota.testing import FakeClock
from tests.multiprocess._procs import ROOT

WAIT = 10  # real seconds a test may wait for an event before it fails (never slept)


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


@pytest.fixture
async def app(clock: FakeClock, provider: TracerProvider) -> AsyncIterator[App]:
    app = App(store=MemoryStore(), clock=clock, instance_id="w1", tracing=provider)
    yield app
    await app.close()


def spans(exporter: InMemorySpanExporter, kind: SpanKind | None = None) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if kind is None or s.kind is kind]


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def ids(span: ReadableSpan) -> tuple[int, int]:
    context = span.get_span_context()
    assert context is not None
    return context.trace_id, context.span_id


async def run_all(app: App) -> None:
    async with app.worker():
        await app.wait_until_idle(timeout=WAIT)


async def test_an_enqueue_is_a_producer_span_whose_context_the_job_carries(
    app: App, exporter: InMemorySpanExporter
) -> None:
    @app.task(queue="mail")
    async def send(to: str) -> None: ...

    job = await send.enqueue("a@example.com")
    (producer,) = spans(exporter)
    assert (producer.name, producer.kind) == ("send mail", SpanKind.PRODUCER)
    assert attributes(producer) == {
        "messaging.system": "rota",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "mail",
        "messaging.message.id": job.id,
        "rota.task": send.name,
    }
    context = producer.get_span_context()
    assert context is not None
    assert job.headers is not None
    flags = int(context.trace_flags)
    assert job.headers["traceparent"] == f"00-{context.trace_id:032x}-{context.span_id:016x}-{flags:02x}"
    assert (await app.get_job(job.id)).headers == job.headers  # stored with the job


async def test_each_run_is_a_consumer_span_linked_to_its_enqueue(
    app: App, exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    inner: list[Any] = []

    @app.task(retry=rota.RetryPolicy(attempts=2, backoff="fixed", base=0.0))
    async def work(n: int, ctx: JobContext) -> None:
        with provider.get_tracer("test").start_as_current_span("inner") as span:
            inner.append(span.get_span_context())
        if ctx.attempt == 1:
            raise ConnectionError("flaky upstream")

    job = await work.enqueue(5)
    (producer,) = spans(exporter, SpanKind.PRODUCER)
    await run_all(app)
    first, second = spans(exporter, SpanKind.CONSUMER)
    for run, attempt in ((first, 1), (second, 2)):
        assert run.name == "process default"
        assert [link.context.span_id for link in run.links] == [ids(producer)[1]]
        assert [link.context.trace_id for link in run.links] == [ids(producer)[0]]
        assert run.parent is None  # a trace of its own, linked
        assert attributes(run) == {
            "messaging.system": "rota",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": "default",
            "messaging.message.id": job.id,
            "messaging.client.id": "w1",
            "rota.task": work.name,
            "rota.attempt": attempt,
            "rota.max_attempts": 2,
            "rota.outcome": "failed" if attempt == 1 else "succeeded",
            **({"error.type": "ConnectionError"} if attempt == 1 else {}),
        }
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "ConnectionError: flaky upstream"
    (event,) = first.events
    assert event.name == "exception"
    assert dict(event.attributes or {})["exception.type"] == "ConnectionError"
    assert second.status.status_code is StatusCode.UNSET
    # the handler's own spans are children of its run's span
    inner_spans = [s for s in spans(exporter) if s.name == "inner"]
    assert [s.parent.span_id for s in inner_spans if s.parent] == [ids(first)[1], ids(second)[1]]


async def test_a_timeout_and_a_def_handler_are_traced(
    app: App, exporter: InMemorySpanExporter, clock: FakeClock, provider: TracerProvider
) -> None:
    started = asyncio.Event()
    parents: list[int] = []

    @app.task(timeout=5, retry=1)
    async def hang() -> None:
        started.set()
        await asyncio.Event().wait()

    @app.task
    def in_thread() -> None:
        with provider.get_tracer("test").start_as_current_span("in a thread") as span:
            parents.append(span.parent.span_id if span.parent else 0)

    await hang.enqueue()
    await in_thread.enqueue()
    async with app.worker():
        await asyncio.wait_for(started.wait(), WAIT)
        await clock.advance(5)
        await app.wait_until_idle(timeout=WAIT)
    runs = {attributes(s)["rota.task"]: s for s in spans(exporter, SpanKind.CONSUMER)}
    timed_out = runs[hang.name]
    assert attributes(timed_out)["rota.outcome"] == "timed_out"
    assert attributes(timed_out)["error.type"] == "timeout"
    assert timed_out.status.status_code is StatusCode.ERROR
    assert timed_out.status.description == "TimeoutError: timed out after 5s"
    assert parents == [ids(runs[in_thread.name])[1]]


async def test_a_batch_is_one_send_span_with_a_create_span_per_job(
    app: App, exporter: InMemorySpanExporter
) -> None:
    @app.task
    async def work(n: int) -> None: ...

    jobs = await app.enqueue_many([work.prepare(1), work.prepare(2), work.prepare(3, key="k")])
    (batch,) = spans(exporter, SpanKind.CLIENT)
    creates = spans(exporter, SpanKind.PRODUCER)
    assert batch.name == "send default"
    assert attributes(batch)["messaging.batch.message_count"] == 3
    assert [s.name for s in creates] == ["create default"] * 3
    assert [attributes(s)["messaging.message.id"] for s in creates] == [j.id for j in jobs]
    assert {s.parent.span_id for s in creates if s.parent} == {ids(batch)[1]}
    for job, create in zip(jobs, creates, strict=True):
        assert job.headers is not None
        assert job.headers["traceparent"].split("-")[2] == f"{ids(create)[1]:016x}"
    again = await work.enqueue(4, key="k")  # a duplicate key returns the stored job
    (duplicate,) = [s for s in spans(exporter, SpanKind.PRODUCER) if s not in creates]
    assert attributes(duplicate)["rota.duplicate_of"] == jobs[2].id == again.id


async def test_an_enqueue_inside_a_span_is_its_child_also_through_the_sync_facade(
    exporter: InMemorySpanExporter, provider: TracerProvider
) -> None:
    app = App("memory://", tracing=provider)

    @app.task
    async def work(n: int) -> None: ...

    outer = provider.get_tracer("test")
    with outer.start_as_current_span("request") as request:
        await work.enqueue(1)
    with SyncApp(app) as jobs, outer.start_as_current_span("sync request") as sync_request:
        await asyncio.to_thread(jobs.enqueue, work, 2)
    request_id, sync_id = request.get_span_context().span_id, sync_request.get_span_context().span_id
    parents = [s.parent.span_id if s.parent else None for s in spans(exporter, SpanKind.PRODUCER)]
    assert parents == [request_id, sync_id]


async def test_a_failed_enqueue_records_its_error(app: App, exporter: InMemorySpanExporter) -> None:
    @app.task
    async def work(n: int) -> None: ...

    async def refuse(*args: object, **kwargs: object) -> Any:
        raise rota.StoreUnavailable("server away")

    app.store.add = refuse  # type: ignore[method-assign]
    with pytest.raises(rota.StoreUnavailable):
        await work.enqueue(1)
    (producer,) = spans(exporter)
    assert producer.status.status_code is StatusCode.ERROR
    assert attributes(producer)["error.type"] == "StoreUnavailable"
    assert [e.name for e in producer.events] == ["exception"]


async def test_a_huge_tracestate_is_not_carried(app: App, provider: TracerProvider) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

    @app.task
    async def work(n: int) -> None: ...

    state = TraceState([(f"k{n}", "v" * 200) for n in range(10)])  # 2 kB of vendor state
    parent = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(1), trace_state=state)
    with trace.use_span(NonRecordingSpan(parent)):
        job = await work.enqueue(1)
    assert job.headers is not None
    assert set(job.headers) == {"traceparent"}


def test_tracing_is_off_by_default_and_set_by_argument_or_environment(
    monkeypatch: pytest.MonkeyPatch, provider: TracerProvider
) -> None:
    monkeypatch.delenv("ROTA_TRACING", raising=False)
    assert App("memory://").config.tracing is False
    assert App("memory://").context.tracing is None
    monkeypatch.setenv("ROTA_TRACING", "true")
    assert App("memory://").config.tracing is True
    assert App("memory://").context.tracing is not None
    assert App("memory://", tracing=False).context.tracing is None  # the argument wins
    monkeypatch.setenv("ROTA_TRACING", "maybe")
    with pytest.raises(rota.ConfigError, match="ROTA_TRACING"):
        App("memory://")
    monkeypatch.delenv("ROTA_TRACING")
    assert App("memory://", tracing=provider).config.tracing is True
    for bad in ("yes", 1, object()):
        with pytest.raises(rota.ConfigError, match="tracing"):
            App("memory://", tracing=bad)


async def test_jobs_enqueued_without_tracing_carry_no_headers(clock: FakeClock) -> None:
    app = App(store=MemoryStore(), clock=clock)

    @app.task
    async def work(n: int) -> None: ...

    job = await work.enqueue(1)
    assert job.headers is None
    await app.close()


_NO_OTEL = """
import asyncio, sys
import rota
from rota.stores.memory import MemoryStore

async def main():
    app = rota.App(store=MemoryStore())
    @app.task
    async def work(n: int, ctx: rota.JobContext) -> None:
        await ctx.progress(0.5)
    await work.enqueue(1)
    async with app.worker():
        await app.wait_until_idle(timeout=10)
    assert (await app.list_jobs(status="succeeded"))
    print(sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry"))

asyncio.run(main())
"""


def test_without_tracing_opentelemetry_is_never_imported() -> None:
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", _NO_OTEL], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_tracing_without_opentelemetry_installed_is_a_clear_error() -> None:
    # a path entry that shadows the package: importing opentelemetry fails as if absent
    code = (
        "import sys; sys.modules['opentelemetry'] = None\n"
        "import rota\n"
        "try:\n    rota.App('memory://', tracing=True)\n"
        "except rota.ConfigError as exc:\n    print(exc)\n"
    )
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'rota[otel]'" in done.stdout
