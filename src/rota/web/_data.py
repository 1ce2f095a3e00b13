"""What the pages and the JSON API read and do, through the App and its Store only (so every
store behaves the same). Both render these answers: a page from the models, the API as JSON.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from rota import _limits
from rota._app import App
from rota._errors import ConfigError, RotaError, ScheduleNotFound, StoreUnavailable
from rota._ids import id_floor, new_id
from rota._models import AbortResult, Attempt, FinishedCount, Job, JobFilter, JobStatus, Schedule
from rota._schedules import ScheduleInfo
from rota.cli.schedules import local, upcoming
from rota.runtime.leader import LEADER_PREFIX
from rota.runtime.locks import LOCK_PREFIX
from rota.web import live
from rota.web._query import JobQuery, decode_cursor, encode_cursor
from rota.web._schemas import (
    AttemptOut,
    Bucket,
    FinishedChart,
    JobDetail,
    JobPage,
    JobSummary,
    LeaderOut,
    LeaseOut,
    Overview,
    ParentOut,
    ProgressOut,
    QueueRow,
    ScheduleOut,
    WorkerOut,
)

WINDOW_MINUTES = 60  # the overview's recent window, and its charts' span
MAX_RUNNING_SHOWN = 1000  # running jobs read for the live workers panel
MAX_PARENTS_READ = 100  # a job's parents read for their status (a job may have 1000)
_FINAL = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)
_CLOSED_AFTER = timedelta(seconds=5)  # a bucket this long past its end no longer changes


class Dashboard:
    """The reads and actions of one dashboard over ``app``, and its cache of closed buckets
    of finished jobs (a closed minute does not change, so a chart refresh reads only the
    newest one from the store)."""

    def __init__(self, app: App, *, read_only: bool = False) -> None:
        self.app = app
        self.read_only = read_only
        self._closed: dict[tuple[timedelta, datetime], list[FinishedCount]] = {}

    async def _open(self) -> App:
        return await self.app.open()

    def now(self) -> datetime:
        return self.app.clock.now()

    # -- overview ----------------------------------------------------------------------------

    async def overview(self) -> Overview:
        from rota import __version__

        app = await self._open()
        report = await app.health()
        if not report.store_ok:
            raise StoreUnavailable(report.error or "the store is unreachable")
        now = self.now()
        # the health report's queue depths have no waiting count: the live counts come from
        # one stats snapshot of their own, so waiting and pending never disagree
        stats = await app.store.stats(now=now)
        chart = await self.chart(minutes=WINDOW_MINUTES, bucket_seconds=60)
        window: dict[str, dict[str, int]] = {}
        for counts in await self._counts(chart.since, chart.until, timedelta(seconds=60)):
            row = window.setdefault(counts.queue, {})
            row[counts.status.value] = row.get(counts.status.value, 0) + counts.count
        queues = []
        for name in sorted(set(stats.counts) | set(window)):
            live_counts, done = stats.counts.get(name, {}), window.get(name, {})
            delayed = stats.delayed.get(name, 0)
            queues.append(
                QueueRow(
                    queue=name,
                    waiting=live_counts.get(JobStatus.WAITING, 0),
                    pending=live_counts.get(JobStatus.PENDING, 0) - delayed,
                    delayed=delayed,
                    running=live_counts.get(JobStatus.RUNNING, 0),
                    **{s.value: done.get(s.value, 0) for s in _FINAL},
                )
            )
        running = await app.store.list_jobs(
            JobFilter(status=JobStatus.RUNNING, limit=MAX_RUNNING_SHOWN, newest_first=True)
        )
        workers = await live.live_workers(app, running, now)
        leader = report.leader
        return Overview(
            store=report.store,
            version=__version__,
            now=now,
            window_minutes=WINDOW_MINUTES,
            read_only=self.read_only,
            election=report.election,
            leader=None
            if leader is None
            else LeaderOut(
                id=leader.id,
                host=leader.host,
                token=leader.token,
                since=leader.since,
                expires_at=leader.expires_at,
            ),
            queues=queues,
            workers=[
                WorkerOut(
                    id=w.id,
                    host=w.host,
                    pid=w.pid,
                    queues=list(w.queues),
                    concurrency=w.concurrency,
                    started_at=w.started_at,
                    last_heartbeat=w.last_heartbeat,
                    version=w.version,
                    running=w.running,
                    jobs=[summary(j) for j in w.jobs],
                )
                for w in workers
            ],
        )

    async def chart(self, *, minutes: int, bucket_seconds: int, queue: str | None = None) -> FinishedChart:
        """Jobs finished per bucket over the last ``minutes`` (the last bucket is the current,
        still open one)."""
        _limits.integer(bucket_seconds, "bucket", minimum=1, maximum=86_400)
        _limits.integer(minutes, "minutes", minimum=1, maximum=7 * 24 * 60)
        if queue is not None:
            _limits.name(queue, "queue")
        size = timedelta(seconds=bucket_seconds)
        if timedelta(minutes=minutes) / size > 1000:
            raise ConfigError(
                f"{minutes} minutes in buckets of {bucket_seconds}s makes more than 1000 buckets"
            )
        await self._open()
        now = self.now()
        current = _floor(now, size)
        since = current - size * max(0, -(-timedelta(minutes=minutes) // size) - 1)
        until = current + size
        totals: dict[datetime, dict[str, int]] = {
            since + k * size: {} for k in range((until - since) // size)
        }
        for counts in await self._counts(since, until, size):
            if queue is None or counts.queue == queue:
                bucket = totals.setdefault(counts.start, {})
                bucket[counts.status.value] = bucket.get(counts.status.value, 0) + counts.count
        return FinishedChart(
            since=since,
            until=until,
            bucket_seconds=bucket_seconds,
            queue=queue,
            buckets=[
                Bucket(start=start, **{s.value: c.get(s.value, 0) for s in _FINAL})
                for start, c in totals.items()
            ],
        )

    async def _counts(self, since: datetime, until: datetime, size: timedelta) -> list[FinishedCount]:
        """``count_finished`` from ``since`` to ``until`` in buckets of ``size``, the closed
        buckets from the cache."""
        store, now = self.app.store, self.now()
        closed_until = _floor(now - _CLOSED_AFTER, size)
        start = since
        out: list[FinishedCount] = []
        while start < until and start + size <= closed_until and (size, start) in self._closed:
            out += self._closed[size, start]
            start += size
        fresh = await store.count_finished(since=start, until=until, bucket=size) if start < until else []
        by_start: dict[datetime, list[FinishedCount]] = {}
        for counts in fresh:
            by_start.setdefault(counts.start, []).append(counts)
        bucket = start
        while bucket < until and bucket + size <= closed_until:
            self._closed[size, bucket] = by_start.get(bucket, [])
            bucket += size
        stale = now - timedelta(days=2)
        for key in [k for k in self._closed if k[1] < stale]:
            del self._closed[key]
        return out + fresh

    # -- jobs ----------------------------------------------------------------------------------

    async def jobs(self, query: JobQuery) -> JobPage:
        desc = query.order == "newest"
        after = id_floor(query.since) if query.since else None
        before = id_floor(query.until) if query.until else None
        back = False
        if query.cursor:
            anchor, direction = decode_cursor(query.cursor, query.order)
            back = direction == "prev"
            if desc != back:  # walking towards older ids
                before = anchor if before is None else min(before, anchor)
            else:
                after = anchor if after is None else max(after, anchor)
        flt = JobFilter(
            status=query.status, queue=query.queue, task=query.task, schedule_id=query.schedule,
            key=query.key, after_id=after, before_id=before, newest_first=desc != back, limit=query.limit + 1,
        )  # fmt: skip
        app = await self._open()
        found = await app.store.list_jobs(flt)
        more = len(found) > query.limit
        rows = found[: query.limit]
        if back:
            rows.reverse()
        has_next = (more and not back) or (back and bool(query.cursor))
        has_prev = (bool(query.cursor) and not back) or (back and more)
        return JobPage(
            jobs=[summary(j) for j in rows],
            order=query.order,
            limit=query.limit,
            next_cursor=encode_cursor(rows[-1].id, query.order, "next") if rows and has_next else None,
            prev_cursor=encode_cursor(rows[0].id, query.order, "prev") if rows and has_prev else None,
        )

    async def job(self, job_id: str) -> JobDetail:
        app = await self._open()
        job = await app.get_job(job_id)
        attempts = await app.attempts(job_id)
        progress = live.job_progress(job)
        payload, payload_text = _json(job.payload)
        result, result_text = _json(job.result) if job.result is not None else (None, None)
        return JobDetail(
            **summary(job).model_dump(),
            token=job.token, fire_time=job.fire_time, timeout=job.timeout, payload=payload,
            payload_text=payload_text, result=result, result_text=result_text, defect=job.defect,
            progress=None if progress is None else ProgressOut(fraction=progress.fraction,
                                                               message=progress.message),
            trace_id=live.job_trace_id(job), history=[_attempt(a) for a in attempts],
            parents=await self._parents(app, job), parents_left=job.parents_left,
            run_after_failure=job.run_after_failure, takes_result=job.takes_result,
            dependants=job.dependants,
        )  # fmt: skip

    async def _parents(self, app: App, job: Job) -> list[ParentOut]:
        """The job's parents as they are now: the first ``MAX_PARENTS_READ`` read one by one
        (the store finds jobs by id, not by a list of ids), the rest by id only."""
        out = []
        for n, parent_id in enumerate(job.parents or ()):
            parent = await app.store.get_job(parent_id) if n < MAX_PARENTS_READ else None
            out.append(
                ParentOut(
                    id=parent_id,
                    status=None if parent is None else parent.status,
                    task=None if parent is None else parent.task,
                )
            )
        return out

    async def retry(self, job_id: str) -> Job:
        """The failed or cancelled job itself runs again (``requeue``: history kept)."""
        app = await self._open()
        return await app.requeue(job_id)

    async def cancel(self, job_id: str) -> Job:
        app = await self._open()
        return await app.cancel(job_id)

    async def abort(self, job_id: str) -> AbortResult:
        """``app.abort`` from the dashboard: a running job's worker stops its run."""
        app = await self._open()
        return await app.abort(job_id, reason="from the dashboard")

    async def requeue(self, job_id: str) -> Job:
        """A new job with the same task, queue, payload and priority, due now (any status)."""
        app = await self._open()
        job = await app.get_job(job_id)
        now = self.now()
        copy = Job(
            id=new_id(), task=job.task, queue=job.queue, payload=job.payload, priority=job.priority,
            due_at=now, created_at=now, max_attempts=job.max_attempts, timeout=job.timeout,
        )  # fmt: skip
        [added] = await app.store.add([copy], now=now)
        return added.job

    # -- schedules and leases --------------------------------------------------------------------

    async def schedules(self) -> list[ScheduleOut]:
        app = await self._open()
        return [schedule_out(s) for s in await app.store.list_schedules()]

    async def schedule(self, schedule_id: str) -> ScheduleOut:
        _limits.name(schedule_id, "schedule id")
        app = await self._open()
        found = await app.store.get_schedule(schedule_id)
        if found is None:
            raise ScheduleNotFound(f"no schedule with id {schedule_id!r}")
        return schedule_out(found)

    async def leases(self) -> list[LeaseOut]:
        app = await self._open()
        out = []
        for lease in await app.store.list_leases(now=self.now()):
            kind: Literal["leader", "lock", "other"] = "other"
            resource = lease.name
            for prefix, name in ((LEADER_PREFIX, "leader"), (LOCK_PREFIX, "lock")):
                if lease.name.startswith(prefix):
                    kind, resource = name, lease.name[len(prefix) :]  # type: ignore[assignment]
            out.append(
                LeaseOut(
                    name=lease.name,
                    kind=kind,
                    resource=resource,
                    owner=lease.owner,
                    token=lease.token,
                    acquired_at=lease.acquired_at,
                    expires_at=lease.expires_at,
                )
            )
        return out


def summary(job: Job) -> JobSummary:
    return JobSummary(
        id=job.id, task=job.task, queue=job.queue, status=job.status, priority=job.priority,
        attempts=job.attempts, max_attempts=job.max_attempts, created_at=job.created_at,
        due_at=job.due_at, started_at=job.started_at, finished_at=job.finished_at,
        schedule_id=job.schedule_id, key=job.key, lease_owner=job.lease_owner,
        lease_expires_at=job.lease_expires_at, last_error=job.last_error,
    )  # fmt: skip


def schedule_out(s: Schedule) -> ScheduleOut:
    try:
        info: ScheduleInfo | None = ScheduleInfo.of(s)
    except RotaError:  # a trigger this version cannot read: shown as stored, without fires
        info = None
    fires = upcoming(info) if info is not None else []
    zone = getattr(info.zone, "key", "UTC") if info is not None and info.zone is not None else "UTC"
    return ScheduleOut(
        id=s.id, task=s.task, trigger=info.trigger.describe() if info is not None else s.trigger,
        queue=s.queue, zone=zone, paused=s.paused, next_fire_at=s.next_fire_at,
        last_fire_at=s.last_fire_at, upcoming=fires,
        upcoming_local=[local(f, info) for f in fires] if info is not None else [],
        last_fire_local=local(s.last_fire_at, info) if info is not None and s.last_fire_at else None,
        run_count=s.run_count, fail_count=s.fail_count, last_error=s.last_error,
        last_job_id=s.last_job_id, misfire=str(s.misfire), overlap=str(s.overlap), origin=s.origin,
    )  # fmt: skip


def _attempt(a: Attempt) -> AttemptOut:
    return AttemptOut(
        number=a.number, worker=a.worker, started_at=a.started_at, finished_at=a.finished_at,
        duration_seconds=(a.finished_at - a.started_at).total_seconds(), outcome=a.outcome,
        error_type=a.error_type, error_message=a.error_message, traceback=a.traceback,
    )  # fmt: skip


def _json(raw: bytes | None) -> tuple[Any, str]:
    """A stored payload or result: (its JSON value, pretty text); not JSON: (None, a note)."""
    if raw is None:
        return None, "null"
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, f"(not JSON: {len(raw)} bytes) {raw[:200]!r}"
    return value, json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


def _floor(when: datetime, size: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + size * ((when - epoch) // size)
