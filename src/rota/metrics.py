"""Prometheus metrics for rota: ``pip install 'rota[prometheus]'`` (``prometheus_client``).

``rota worker --metrics-port 9100`` serves them on ``/metrics``. An application that serves
its own ``/metrics`` mounts the same collector on the registry it exports::

    from rota.metrics import Metrics

    metrics = Metrics()                # prometheus_client's default registry, or registry=...
    metrics.observe(app)               # counts the app's jobs: enqueued, started, outcomes
    worker = app.worker()
    async with metrics.watch(worker):  # its gauges; the leader samples queue depths
        await worker.run()

The names (docs/operations.md lists them with sample queries): ``rota_jobs_enqueued_total``,
``rota_jobs_started_total``, ``rota_job_outcomes_total{outcome}`` (succeeded, retried,
failed, cancelled, released, lease_lost), the histograms ``rota_job_duration_seconds`` and
``rota_job_pickup_latency_seconds``, all labelled by ``task`` and ``queue``; the gauges
``rota_worker_running_jobs``, ``rota_worker_slots``, ``rota_leader``, and, from the leader
only, ``rota_queue_jobs{queue,status}`` and ``rota_schedule_lag_seconds``.

Metrics cost nothing until ``observe()``: the worker builds an event only for kinds someone
listens to, and this module (with ``prometheus_client``) is imported only when asked for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

from rota._app import App
from rota._errors import StoreError
from rota._events import Event, EventKind
from rota.runtime.health import queue_depths
from rota.runtime.lifecycle import LoopService
from rota.runtime.looplag import LoopLag
from rota.runtime.waiting import first_of
from rota.runtime.worker import Worker

__all__ = ["DURATION_BUCKETS", "PICKUP_BUCKETS", "SAMPLE_INTERVAL", "Metrics", "Sampler"]

log = logging.getLogger("rota.metrics")

#: seconds; a job runs from milliseconds to an hour
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
#: seconds from due to claimed; an idle worker picks a job up in milliseconds
PICKUP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: seconds between the leader's samples of the queues
SAMPLE_INTERVAL = 15.0

#: the outcome label of each kind of a run's end
OUTCOMES = {
    EventKind.SUCCEEDED: "succeeded",
    EventKind.RETRYING: "retried",
    EventKind.FAILED: "failed",
    EventKind.CANCELLED: "cancelled",
    EventKind.RELEASED: "released",
    EventKind.LEASE_LOST: "lease_lost",
}
#: the outcomes whose run ended in its handler: their duration is the handler's
_TIMED = frozenset({EventKind.SUCCEEDED, EventKind.RETRYING, EventKind.FAILED, EventKind.CANCELLED})
_STATUSES = ("pending", "delayed", "running", "succeeded", "failed", "cancelled")


@dataclass(slots=True)
class _Series:
    """The children of one (task, queue): looked up once, then a dict hit per event."""

    enqueued: Counter
    started: Counter
    outcomes: dict[EventKind, Counter]
    duration: Histogram
    pickup: Histogram


class Metrics:
    """rota's metrics on ``registry`` (one ``Metrics`` per registry: the names are unique)."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.registry = registry
        labels = ("task", "queue")
        self.enqueued = Counter(
            "rota_jobs_enqueued", "Jobs queued by this process.", labels, registry=registry
        )
        self.started = Counter(
            "rota_jobs_started", "Job runs whose handler started in this process.", labels, registry=registry
        )
        self.outcomes = Counter(
            "rota_job_outcomes",
            "Ends of job runs in this process: succeeded, retried (failed, runs again), failed "
            "(for good), cancelled, released (given back at shutdown), lease_lost.",
            (*labels, "outcome"),
            registry=registry,
        )
        self.duration = Histogram(
            "rota_job_duration_seconds", "How long job handlers ran (succeeded, retried, failed, "
            "cancelled).", labels, buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.pickup = Histogram(
            "rota_job_pickup_latency_seconds", "From a job's due time to its claim by a worker.",
            labels, buckets=PICKUP_BUCKETS, registry=registry,
        )  # fmt: skip
        self.running = Gauge(
            "rota_worker_running_jobs", "Jobs the workers of this process hold.", registry=registry
        )
        self.slots = Gauge(
            "rota_worker_slots", "Jobs the workers of this process may run at once.", registry=registry
        )
        self.leader = Gauge(
            "rota_leader", "1 while a worker of this process leads its election (or runs without one).",
            registry=registry,
        )  # fmt: skip
        self.queue_jobs = Gauge(
            "rota_queue_jobs", "Jobs per queue and status, sampled by the leader (pending: due now; "
            "delayed: due later).", ("queue", "status"), registry=registry,
        )  # fmt: skip
        self.schedule_lag = Gauge(
            "rota_schedule_lag_seconds", "How late the most overdue schedule fire is, sampled by the "
            "leader (0: none is overdue).", registry=registry,
        )  # fmt: skip
        self.loop_lag = Gauge(
            "rota_event_loop_lag_seconds", "The largest event loop lag of the last seconds.",
            registry=registry,
        )  # fmt: skip
        self._series: dict[tuple[str, str], _Series] = {}
        self._observed: set[int] = set()
        self._workers: list[Worker] = []
        self._lag: LoopLag | None = None
        workers = self._workers
        self.running.set_function(lambda: sum(w.active for w in workers))
        self.slots.set_function(lambda: sum(w.settings.concurrency for w in workers if w.serving))
        self.leader.set_function(lambda: float(any(w.serving and w.services.is_leader for w in workers)))
        self.loop_lag.set_function(lambda: self._lag.worst() if self._lag is not None else 0.0)

    def observe(self, app: App) -> Callable[[], None]:
        """Count ``app``'s jobs (enqueued here, and run by its workers here); returns the
        unsubscribe. Observing the same app twice counts once."""
        key = id(app.context.events)
        if key in self._observed:
            return lambda: None
        self._observed.add(key)
        unsubscribe = app.on(None, self)

        def stop() -> None:
            unsubscribe()
            self._observed.discard(key)

        return stop

    def watch(self, worker: Worker, *, interval: float = SAMPLE_INTERVAL) -> Sampler:
        """Report ``worker``'s gauges from now on; returns the service that samples the
        queues while this worker leads (start it, or ``async with`` it, beside the worker)."""
        if worker not in self._workers:
            self._workers.append(worker)
        return Sampler(self, worker, interval)

    def measure_loop(self, lag: LoopLag) -> None:
        """Export this loop lag monitor's worst recent lag as ``rota_event_loop_lag_seconds``."""
        self._lag = lag

    def __call__(self, event: Event) -> None:
        """A listener of the app's events (the hot path: one dict hit and one or two
        increments per event)."""
        job = event.job
        series = self._series.get((job.task, job.queue)) or self._new_series(job.task, job.queue)
        kind = event.kind
        if kind is EventKind.STARTED:
            series.started.inc()
            if job.started_at is not None and job.due_at is not None:
                series.pickup.observe(max(0.0, _seconds(job.started_at, job.due_at)))
        elif kind is EventKind.ENQUEUED:
            series.enqueued.inc()
        elif event.worker is not None:  # the end of a run (not app.cancel() of a pending job)
            series.outcomes[kind].inc()
            if event.duration is not None and kind in _TIMED:
                series.duration.observe(event.duration)

    def _new_series(self, task: str, queue: str) -> _Series:
        outcome = self.outcomes
        series = _Series(
            enqueued=self.enqueued.labels(task, queue),
            started=self.started.labels(task, queue),
            outcomes={kind: outcome.labels(task, queue, name) for kind, name in OUTCOMES.items()},
            duration=self.duration.labels(task, queue),
            pickup=self.pickup.labels(task, queue),
        )
        self._series[(task, queue)] = series
        return series


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


class Sampler(LoopService):
    """Samples the queues' depths (``Store.stats``) and the schedules' lag every
    ``interval`` seconds of the app's clock, while its worker leads (or runs without an
    election); clears them when it does not, so only one process reports them."""

    def __init__(self, metrics: Metrics, worker: Worker, interval: float = SAMPLE_INTERVAL) -> None:
        super().__init__("rota-metrics-sampler")
        self.metrics = metrics
        self.worker = worker
        self.interval = interval
        self._stop = asyncio.Event()
        self._sampled = False
        #: set after each pass of the loop (sampled or cleared): tests wait on it
        self.passed = asyncio.Event()

    def _request_stop(self) -> None:
        self._stop.set()

    async def _serve(self) -> None:
        clock = self.worker.clock
        self._ready()
        try:
            await first_of(self.worker.wait_serving(), self._stop.wait())
            while not self._stop.is_set():
                if self.worker.serving and self.worker.services.is_leader:
                    await self.sample()
                elif self._sampled:
                    self._clear()
                self.passed.set()
                changed = self.worker.services.wait_changed()
                await first_of(clock.sleep(self.interval), self._stop.wait(), changed)
        finally:
            self._clear()

    async def sample(self) -> None:
        """One sample (a store outage leaves the last values: the outage is logged elsewhere)."""
        context = self.worker.context
        store, now = context.store, context.clock.now()
        try:
            depths = queue_depths(await store.stats(now=now))
            due = await store.next_schedule_due()
        except StoreError as exc:
            log.debug("queue sample skipped: %s", exc)
            return
        gauge = self.metrics.queue_jobs
        gauge.clear()  # a queue that emptied and was purged must not keep its last value
        for queue, depth in depths.items():
            for status in _STATUSES:
                gauge.labels(queue, status).set(getattr(depth, status))
        lag = 0.0 if due is None else max(0.0, _seconds(now, due))
        self.metrics.schedule_lag.set(lag)
        self._sampled = True

    def _clear(self) -> None:
        self.metrics.queue_jobs.clear()
        self.metrics.schedule_lag.set(0)
        self._sampled = False
