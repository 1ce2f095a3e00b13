"""Tracing hooks: what the App (enqueue) and the worker (each run) call when tracing is on.

Tracing is optional (``pip install 'rota[otel]'``) and off unless asked for
(``App(tracing=True)`` or ``ROTA_TRACING=true``). The App chooses its hooks once, when it is
built: ``None`` when tracing is off, so the enqueue and run paths pay one ``is None`` test
and OpenTelemetry is never imported; the OpenTelemetry hooks (``rota._otel``) otherwise.
See docs/tracing.md for the spans, their attributes and how the trace context travels.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from rota._errors import ConfigError
from rota._models import AddResult, ErrorInfo, Job, Outcome


class SendSpan(Protocol):
    """The producer side of one enqueue call, started before the jobs are written."""

    def sent(self, results: Sequence[AddResult]) -> None:
        """The store took the jobs (``results`` in their order): end the spans."""

    def failed(self, error: BaseException) -> None:
        """Writing the jobs raised ``error``: record it and end the spans."""


class RunSpan(Protocol):
    """The consumer side of one run of a job, current while its handler runs."""

    def end(self, outcome: Outcome | None, error: BaseException | None, info: ErrorInfo | None) -> None:
        """The attempt ended with ``outcome`` (None: the run was given up without one),
        raising ``error`` (an exception of the handler's) or with ``info`` (rota's record of
        the failure, such as a timeout)."""


class Tracing(Protocol):
    """The hooks (``RuntimeContext.tracing``)."""

    def send(self, jobs: Sequence[Job]) -> SendSpan:
        """Start the producer span(s) of ``jobs`` about to be written, and put each job's
        trace context into its ``headers`` (W3C ``traceparent`` and ``tracestate``)."""

    def run(self, job: Job, worker: str) -> RunSpan:
        """Start the consumer span of a run of ``job`` on ``worker``, linked to the span
        that enqueued it (from its headers), and make it the current span."""


def tracing_option(value: object) -> tuple[bool | None, object | None]:
    """``App(tracing=...)`` as (on or off, None to read ``ROTA_TRACING``; the provider):
    ``True``/``False``/``None``, or a ``TracerProvider`` (on, with that provider)."""
    if value is None or isinstance(value, bool):
        return value, None
    if not callable(getattr(value, "get_tracer", None)):
        raise ConfigError(f"tracing must be True, False or a TracerProvider, got {type(value).__name__}")
    return True, value


async def traced_send(
    tracing: Tracing, jobs: Sequence[Job], write: Callable[[], Awaitable[list[AddResult]]]
) -> list[AddResult]:
    """``write()`` the jobs inside their producer span(s), which they carry from the start."""
    span = tracing.send(jobs)
    try:
        results = await write()
    except BaseException as exc:
        span.failed(exc)
        raise
    span.sent(results)
    return results


def build_tracing(enabled: bool, provider: object | None = None) -> Tracing | None:
    """The hooks for an App: None when tracing is off (nothing is imported); otherwise the
    OpenTelemetry hooks on ``provider`` (a ``TracerProvider``; None: the global one).
    ``ConfigError`` when tracing is asked for and OpenTelemetry is not installed."""
    if not enabled:
        return None
    try:
        from rota._otel import OtelTracing
    except ImportError as exc:
        raise ConfigError(
            f"tracing needs OpenTelemetry: pip install 'rota[otel]' ({exc}); or turn it off "
            "(App(tracing=False), ROTA_TRACING=false)"
        ) from None
    return OtelTracing(provider)
