"""rota's spans on OpenTelemetry (imported only when tracing is on; see rota._tracing).

Names, kinds and attributes follow the OpenTelemetry semantic conventions for messaging:

* enqueue of one job: a ``send <queue>`` span (PRODUCER);
* enqueue of several jobs in one call: a ``send`` span (CLIENT; ``send <queue>`` when they
  share a queue) with ``messaging.batch.message_count``, and per job a ``create <queue>``
  span (PRODUCER), its child;
* each run of a job: a ``process <queue>`` span (CONSUMER), a new trace linked to the job's
  producer span. The job carries that span's context in ``Job.headers`` (W3C
  ``traceparent`` and ``tracestate``), across processes.

Every span has ``messaging.system`` = ``rota``, ``messaging.operation.type`` and
``messaging.operation.name``, ``messaging.destination.name`` (the queue) and
``messaging.message.id`` (the job id, on the spans of one job); ``rota.task``; the run span
also ``rota.attempt``, ``rota.max_attempts``, ``messaging.client.id`` (the worker) and
``rota.outcome``. A failed attempt records its exception and has status ERROR with
``error.type``; a timeout has ``error.type`` ``timeout``.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import Token
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from rota._models import AddResult, ErrorInfo, Job, Outcome
from rota._version import __version__

SYSTEM = "rota"
#: A ``tracestate`` longer than this is not carried (W3C asks vendors to carry at least 512
#: characters): a job's headers stay small whatever the caller's context holds.
MAX_TRACESTATE = 512

_PROPAGATOR = TraceContextTextMapPropagator()
_FAILED = frozenset({Outcome.FAILED, Outcome.TIMED_OUT})


class OtelTracing:
    """The tracing hooks on an OpenTelemetry ``TracerProvider`` (None: the global one, read
    when the first span starts, so it may be configured after the App is built)."""

    def __init__(self, provider: Any = None) -> None:
        self._tracer = trace.get_tracer("rota", __version__, tracer_provider=provider)

    def send(self, jobs: Sequence[Job]) -> _Send:
        queues = {job.queue for job in jobs}
        queue = next(iter(queues)) if len(queues) == 1 else None
        if len(jobs) == 1:
            (job,) = jobs
            span = self._tracer.start_span(
                f"send {job.queue}", kind=SpanKind.PRODUCER, attributes=_job_attributes(job, "send")
            )
            _carry(job, span)
            return _Send(span, [span])
        attributes: dict[str, Any] = {
            "messaging.system": SYSTEM,
            "messaging.operation.type": "send",
            "messaging.operation.name": "send",
            "messaging.batch.message_count": len(jobs),
        }
        if queue is not None:
            attributes["messaging.destination.name"] = queue
        batch = self._tracer.start_span(
            f"send {queue}" if queue is not None else "send", kind=SpanKind.CLIENT, attributes=attributes
        )
        parent = trace.set_span_in_context(batch)
        creates = []
        for job in jobs:
            span = self._tracer.start_span(
                f"create {job.queue}", context=parent, kind=SpanKind.PRODUCER,
                attributes=_job_attributes(job, "create"),
            )  # fmt: skip
            _carry(job, span)
            creates.append(span)
        return _Send(batch, creates)

    def run(self, job: Job, worker: str) -> _Run:
        links = []
        if job.headers:
            origin = trace.get_current_span(_PROPAGATOR.extract(job.headers)).get_span_context()
            if origin.is_valid:
                links.append(Link(origin))
        attributes = _job_attributes(job, "process")
        attributes.update({
            "rota.attempt": job.attempts, "rota.max_attempts": job.max_attempts,
            "messaging.client.id": worker,
        })  # fmt: skip
        if job.schedule_id is not None:
            attributes["rota.schedule_id"] = job.schedule_id
        span = self._tracer.start_span(
            f"process {job.queue}", context=otel_context.Context(), kind=SpanKind.CONSUMER,
            attributes=attributes, links=links,
        )  # fmt: skip
        # current for the handler: its own spans are children of this one (the job runs in a
        # task of its own, whose context ends with it)
        token = otel_context.attach(trace.set_span_in_context(span))
        return _Run(span, token)


class _Send:
    def __init__(self, outer: Span, per_job: list[Span]) -> None:
        self._outer = outer
        self._per_job = per_job

    def sent(self, results: Sequence[AddResult]) -> None:
        for span, result in zip(self._per_job, results, strict=False):
            if not result.created:  # its key was taken: the stored job is another one
                span.set_attribute("rota.duplicate_of", result.job.id)
        self._end()

    def failed(self, error: BaseException) -> None:
        self._outer.record_exception(error)
        self._outer.set_attribute("error.type", type(error).__qualname__)
        self._outer.set_status(Status(StatusCode.ERROR, _describe(error)))
        self._end()

    def _end(self) -> None:
        for span in self._per_job:
            if span is not self._outer:
                span.end()
        self._outer.end()


class _Run:
    def __init__(self, span: Span, token: Token[otel_context.Context]) -> None:
        self._span = span
        self._token = token

    def end(self, outcome: Outcome | None, error: BaseException | None, info: ErrorInfo | None) -> None:
        span = self._span
        try:
            if outcome is not None:
                span.set_attribute("rota.outcome", outcome.value)
            if outcome in _FAILED:
                if error is not None:
                    span.record_exception(error)
                    kind = type(error).__qualname__
                elif outcome is Outcome.TIMED_OUT:
                    kind = "timeout"
                else:
                    kind = info.type if info is not None else "error"
                span.set_attribute("error.type", kind)
                description = _describe(error) if error is not None else info.summary() if info else kind
                span.set_status(Status(StatusCode.ERROR, description))
            span.end()
        finally:
            otel_context.detach(self._token)


def _job_attributes(job: Job, operation: str) -> dict[str, Any]:
    return {
        "messaging.system": SYSTEM,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.destination.name": job.queue,
        "messaging.message.id": job.id,
        "rota.task": job.task,
    }


def _carry(job: Job, span: Span) -> None:
    """Put the span's context into the job's headers (W3C trace context)."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    if len(carrier.get("tracestate", "")) > MAX_TRACESTATE:
        del carrier["tracestate"]
    if carrier:
        job.headers = {**(job.headers or {}), **carrier}


def _describe(error: BaseException) -> str:
    try:
        message = str(error)
    except Exception:
        message = ""
    name = type(error).__qualname__
    return f"{name}: {message}" if message else name
