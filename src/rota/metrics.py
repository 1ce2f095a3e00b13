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
import bisect
import logging
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from rota._app import App
from rota._errors import StoreError
from rota._events import Event, EventKind
from rota.runtime.health import QueueDepth, queue_depths
from rota.runtime.lifecycle import LoopService
from rota.runtime.looplag import LoopLag
from rota.runtime.waiting import first_of
from rota.runtime.worker import Worker

__all__ = ["DURATION_BUCKETS", "OUTCOMES", "PICKUP_BUCKETS", "SAMPLE_INTERVAL", "Metrics", "Sampler"]

log = logging.getLogger("rota.metrics")

#: seconds; a job runs from milliseconds to an hour
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
#: seconds from due to claimed; an idle worker picks a job up in milliseconds
PICKUP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
#: seconds between the leader's samples of the queues
SAMPLE_INTERVAL = 15.0

#: the outcome label of each kind of a run's end, in the order the counts are kept
OUTCOMES = {
    EventKind.SUCCEEDED: "succeeded",
    EventKind.RETRYING: "retried",
    EventKind.FAILED: "failed",
    EventKind.CANCELLED: "cancelled",
    EventKind.RELEASED: "released",
    EventKind.LEASE_LOST: "lease_lost",
}
_SLOT = {kind: i for i, kind in enumerate(OUTCOMES)}
#: the outcomes whose run ended in its handler: their duration is the handler's
_TIMED = frozenset({EventKind.SUCCEEDED, EventKind.RETRYING, EventKind.FAILED, EventKind.CANCELLED})
_STATUSES = ("pending", "delayed", "running", "succeeded", "failed", "cancelled")


class _Histogram:
    """Bucket counts (not cumulative) and the sum of one series."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound (+Inf)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1  # le: value <= bound
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        total = 0
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            total += count
            out.append((_le(bound), total))
        return out


class _Series:
    """The counts of one (task, queue): plain numbers, bumped on the event loop."""

    __slots__ = ("duration", "enqueued", "outcomes", "pickup", "started")

    def __init__(self) -> None:
        self.enqueued = 0
        self.started = 0
        self.outcomes = [0] * len(OUTCOMES)
        self.duration = _Histogram(DURATION_BUCKETS)
        self.pickup = _Histogram(PICKUP_BUCKETS)


class Metrics:
    """rota's metrics, a collector on ``registry`` (None: not registered; one ``Metrics``
    per registry, since the names are unique).

    The hot path keeps plain counts (a dict hit and an increment per event, on the event
    loop); they become metric families only when the registry is scraped.
    """

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.registry = registry
        self._series: dict[tuple[str, str], _Series] = {}
        self._observed: set[int] = set()
        self._workers: list[Worker] = []
        self._lag: LoopLag | None = None
        #: the leader's last sample (``Sampler``): depths by queue, and the schedule lag
        self.depths: dict[str, QueueDepth] = {}
        self.schedule_lag = 0.0
        if registry is not None:
            registry.register(self)

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
        """A listener of the app's events: the hot path."""
        job = event.job
        series = self._series.get((job.task, job.queue))
        if series is None:
            series = self._series[(job.task, job.queue)] = _Series()
        kind = event.kind
        if kind is EventKind.STARTED:
            series.started += 1
            if job.started_at is not None and job.due_at is not None:
                series.pickup.observe(max(0.0, _seconds(job.started_at, job.due_at)))
        elif kind is EventKind.ENQUEUED:
            series.enqueued += 1
        elif event.worker is not None:  # the end of a run (not app.cancel() of a pending job)
            series.outcomes[_SLOT[kind]] += 1
            if event.duration is not None and kind in _TIMED:
                series.duration.observe(event.duration)

    # -- the collector ---------------------------------------------------------------------

    def describe(self) -> list[Metric]:
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        return self._families()

    def _families(self) -> Iterator[Metric]:
        series = list(self._series.items())  # a scrape from another thread sees a snapshot
        labels = ["task", "queue"]
        enqueued = CounterMetricFamily("rota_jobs_enqueued", "Jobs queued by this process.", labels=labels)
        started = CounterMetricFamily(
            "rota_jobs_started", "Job runs whose handler started in this process.", labels=labels
        )
        outcomes = CounterMetricFamily(
            "rota_job_outcomes",
            "Ends of job runs in this process: succeeded, retried (failed, runs again), failed "
            "(for good), cancelled, released (given back at shutdown), lease_lost.",
            labels=[*labels, "outcome"],
        )
        duration = HistogramMetricFamily(
            "rota_job_duration_seconds",
            "How long job handlers ran (succeeded, retried, failed, cancelled).",
            labels=labels,
        )
        pickup = HistogramMetricFamily(
            "rota_job_pickup_latency_seconds",
            "From a job's due time to its claim by a worker.",
            labels=labels,
        )
        for (task, queue), counts in series:
            key = [task, queue]
            enqueued.add_metric(key, counts.enqueued)
            started.add_metric(key, counts.started)
            for name, count in zip(OUTCOMES.values(), counts.outcomes, strict=True):
                outcomes.add_metric([task, queue, name], count)
            duration.add_metric(key, counts.duration.buckets(), counts.duration.sum)
            pickup.add_metric(key, counts.pickup.buckets(), counts.pickup.sum)
        yield from (enqueued, started, outcomes, duration, pickup)
        workers = [w for w in self._workers if w.serving]
        yield _gauge(
            "rota_worker_running_jobs",
            "Jobs the workers of this process hold.",
            sum(w.active for w in workers),
        )
        yield _gauge(
            "rota_worker_slots",
            "Jobs the workers of this process may run at once.",
            sum(w.settings.concurrency for w in workers),
        )
        yield _gauge(
            "rota_leader",
            "1 while a worker of this process leads its election (or runs without one).",
            float(any(w.services.is_leader for w in workers)),
        )
        depths = GaugeMetricFamily(
            "rota_queue_jobs",
            "Jobs per queue and status, sampled by the leader (pending: due now; delayed: due later).",
            labels=["queue", "status"],
        )
        for queue, depth in list(self.depths.items()):
            for status in _STATUSES:
                depths.add_metric([queue, status], getattr(depth, status))
        yield depths
        yield _gauge(
            "rota_schedule_lag_seconds",
            "How late the most overdue schedule fire is, sampled by the leader (0: none is overdue).",
            self.schedule_lag,
        )
        yield _gauge(
            "rota_event_loop_lag_seconds",
            "The largest event loop lag of the last seconds.",
            self._lag.worst() if self._lag is not None else 0.0,
        )


def _le(bound: float) -> str:
    """A bucket bound as the exposition writes it (``0.5``, ``1.0``, ``+Inf``)."""
    return "+Inf" if bound == float("inf") else repr(float(bound))


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


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
        # replaced whole: a queue that emptied and was purged must not keep its last value
        self.metrics.depths = depths
        self.metrics.schedule_lag = 0.0 if due is None else max(0.0, _seconds(now, due))
        self._sampled = True

    def _clear(self) -> None:
        self.metrics.depths = {}
        self.metrics.schedule_lag = 0.0
        self._sampled = False
