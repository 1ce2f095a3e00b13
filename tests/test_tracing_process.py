"""Tracing across processes: a job enqueued here (its producer span in this process's
in-memory exporter) and run by a real ``rota worker`` process (its spans written to a file by
tests/multiprocess/traced_app.py) has a run span linked to its enqueue span, with the
documented attributes; a failing job's run span records the exception."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from rota import App, JobStatus
from tests.multiprocess._procs import rota_process

pytestmark = pytest.mark.slow

DEADLINE = 30.0  # real seconds for the worker process to run the jobs and exit
APP = "tests.multiprocess.traced_app:app"


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


async def test_the_run_span_is_linked_to_the_enqueue_span_across_processes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'traced.db'}"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = App(url, tracing=provider)
    for name, attempts in (("traced.ok", 3), ("traced.fail", 1)):  # the worker app's tasks, by name

        @app.task(name=name, retry=attempts)
        async def _(n: int) -> None: ...

    spans_file = tmp_path / "worker-spans.jsonl"
    try:
        ok = await app.enqueue("traced.ok", 1)
        failing = await app.enqueue("traced.fail", 2)
        sent = {span.attributes["messaging.message.id"]: span for span in exporter.get_finished_spans()}  # type: ignore[index]
        assert set(sent) == {ok.id, failing.id}
        proc = rota_process(
            ["worker", APP, "--no-scheduler"], {"ROTA_STORE_URL": url, "ROTA_TEST_SPANS": str(spans_file)}
        )
        try:
            await app.wait_until_idle(timeout=DEADLINE)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=DEADLINE)
            except subprocess.TimeoutExpired:
                proc.kill()
                _, err = proc.communicate()
        assert proc.returncode == 0, err
        assert (await app.get_job(ok.id)).status is JobStatus.SUCCEEDED
        assert (await app.get_job(failing.id)).status is JobStatus.FAILED
    finally:
        await app.close()

    worker_spans = _spans(spans_file)
    runs = {s["attributes"]["messaging.message.id"]: s for s in worker_spans if s["kind"] == "CONSUMER"}
    assert set(runs) == {ok.id, failing.id}
    for job, queue_task in ((ok, "traced.ok"), (failing, "traced.fail")):
        producer, run = sent[job.id], runs[job.id]
        assert producer.kind is SpanKind.PRODUCER
        assert producer.name == "send default"
        # linked to the enqueue span, in a trace of its own
        context = producer.get_span_context()
        assert context is not None
        origin = {"trace_id": f"{context.trace_id:032x}", "span_id": f"{context.span_id:016x}"}
        assert run["links"] == [origin]
        assert run["trace_id"] != origin["trace_id"]
        assert run["name"] == "process default"
        assert run["attributes"] == {
            **run["attributes"],
            "messaging.system": "rota",
            "messaging.operation.type": "process",
            "messaging.operation.name": "process",
            "messaging.destination.name": "default",
            "messaging.message.id": job.id,
            "rota.task": queue_task,
            "rota.attempt": 1,
        }
        assert run["attributes"]["messaging.client.id"]  # the worker's id
    ok_run, failed_run = runs[ok.id], runs[failing.id]
    assert (ok_run["status"], ok_run["attributes"]["rota.outcome"]) == ("UNSET", "succeeded")
    inside = [s for s in worker_spans if s["name"] == "inside the handler"]
    assert [s["parent_span_id"] for s in inside] == [ok_run["span_id"]]  # the handler's span is a child
    assert failed_run["status"] == StatusCode.ERROR.name
    assert failed_run["description"] == "ValueError: bad input 2"
    assert failed_run["attributes"]["error.type"] == "ValueError"
    assert failed_run["attributes"]["rota.outcome"] == "failed"
    (exception,) = [e for e in failed_run["events"] if e["name"] == "exception"]
    assert exception["attributes"]["exception.type"] == "ValueError"
    assert exception["attributes"]["exception.message"] == "bad input 2"
