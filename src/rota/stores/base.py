"""The one interface every store implements, with each method's contract.

A store is the single source of truth; the runtime keeps no state a crash could lose.
Every method is a coroutine and takes ``now`` from the caller's clock (never reads the
system time itself) so that tests can drive stores with a fake clock.

Atomicity words used below:

* **atomic** — no other caller, in any process, can observe or interleave with a partial
  effect of the call (one transaction, one Lua script, one single-document update...).
* **conditional on the token** — the write happens only while the job is ``running`` with
  exactly this fencing token; otherwise it is silently skipped and reported as stale.

Errors: transient failures (connection lost, server restarting, lock timeouts) raise
``StoreUnavailable``; callers retry those with backoff. A feature a store cannot provide raises
``NotSupported``. Methods that take an id raise ``JobNotFound``/``ScheduleNotFound`` only where
stated; lookups return ``None`` instead.

Edges, the same in every store (this class checks them before any backend code runs, so a
backend cannot forget one; the conformance suite tests them on every store):

* **Before ``open()`` and after ``close()``** every job, schedule and lease method raises
  ``StoreClosed`` (a ``StoreError``, never ``StoreUnavailable``: no retry can help), whatever
  its arguments. ``open()`` and ``close()`` are idempotent; a closed store may be opened again
  and finds its data as it was. After an ``open()`` that failed (a server away, say), each
  call first tries to open the store again and raises what that raises (``StoreUnavailable``
  while the server is away), so a caller retrying it resumes once the server is back.
  ``describe()``, ``migrate()``, ``notify_*`` and the waits work in any state (before
  ``open()`` the waits hear only this process).
* **Invalid arguments** raise ``ConfigError`` and write nothing: a ``now`` (or
  ``finished_before``, ``next_fire_at``) that is not a timezone-aware datetime; a lease length
  (``lease_for``, ``ttl``) that is not a positive timedelta; a ``limit`` that is not a whole
  number of 0 or more; an empty or non-text ``worker``, ``owner``, lease name or queue name.
  Jobs to add must be ``pending`` (``InvalidState``), have ``due_at`` (``ConfigError``),
  distinct ids within the call (``InvalidState``) and limit fields that go together and are
  in range (``ConfigError``; see ``claim``); a missing ``created_at`` is taken as ``now``.
* **Nothing asked, nothing done**: a ``limit`` of 0, no queues, or an empty batch returns the
  empty answer (``[]``, 0, None) without reaching the backend, once the checks above pass.
"""

from __future__ import annotations

import asyncio
import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from rota._errors import StoreClosed
from rota._models import (
    AddResult,
    Attempt,
    Fence,
    Finish,
    FinishedCount,
    FireCommit,
    Job,
    JobFilter,
    JobStatus,
    Lease,
    LeaseRef,
    Progress,
    QueueStats,
    Schedule,
    WorkerInfo,
)
from rota.stores import _checks as check
from rota.stores._parts import Parts

#: The most buckets one ``count_finished`` call may ask for.
MAX_BUCKETS = 10_000


class Store(ABC):
    """Abstract base of every store (memory, SQLite, PostgreSQL, Redis, MongoDB)."""

    #: Name used in URLs and messages ("memory", "sqlite", ...).
    kind: str = "abstract"
    #: True when several processes (or hosts) can share this store.
    shared: bool = True
    #: Seconds an idle worker waits before re-checking for work other processes added, when
    #: ``wait_for_jobs`` cannot hear them (stores with real wake-ups can use a long interval).
    poll_interval: float = 1.0

    def __init__(self) -> None:
        self._jobs_changed = asyncio.Event()
        self._schedules_changed = asyncio.Event()
        self._parts: Parts | None = None  # set while open
        self._wanted = False  # open() was called, and close() not since
        self._was_open = False  # for the message of StoreClosed
        self._opening = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Connect and bring the schema up to date (idempotent; safe in several processes)."""
        self._wanted = True
        async with self._opening:
            if self._parts is None:
                self._parts = await self._open()
                self._was_open = True

    async def close(self) -> None:
        """Release connections. Idempotent; the store may be opened again."""
        self._wanted = False
        self._parts = None  # calls from now on raise StoreClosed, even while this one awaits
        await self._close()

    @abstractmethod
    async def _open(self) -> Parts:
        """Connect (and migrate) and return the parts that serve the store's calls. On
        failure, release whatever was acquired and raise (StoreUnavailable when transient)."""

    async def _close(self) -> None:  # noqa: B027 - optional hook
        """Release what ``_open`` acquired. Idempotent; also called after a failed ``_open``."""

    async def _reopen(self) -> Parts:
        """The parts, for a call made while the store is not open (every method reads
        ``self._parts or await self._reopen()``, so an open store pays nothing for this)."""
        if not self._wanted:
            why = "it was closed" if self._was_open else "call open() first"
            raise StoreClosed(f"the store {self.describe()} is not open ({why})")
        await self.open()  # the last open() failed: try again, raising what it raises
        assert self._parts is not None
        return self._parts

    async def migrate(self) -> list[int]:
        """Bring the schema up to date now (``open`` also does, unless the URL disables it);
        returns the migration versions applied. Stores without a schema return []."""
        return []

    def describe(self) -> str:
        """A one-line description for logs and ``rota status`` (no passwords)."""
        return self.kind

    # -- jobs ----------------------------------------------------------------------------

    async def add(self, jobs: Sequence[Job], *, now: datetime) -> list[AddResult]:
        """Insert jobs; one result per input, in order.

        Atomic as a whole (all or none are written) and, for the SQL and Lua stores, one
        round trip. A job whose ``key`` equals the key of any job retained in the store (any
        status, until purged) is not inserted: its result carries the existing job and
        ``created=False``. Two jobs with one key in the same call: the first wins. Jobs are
        given as fully built ``pending`` records (id and due_at filled in; a missing
        created_at is taken as ``now``); their ``headers`` are stored as given and read back
        equal (``ConfigError`` for headers outside ``rota._models.check_headers``' bounds). A
        job id that already exists raises ``InvalidState`` (SQLite: ``StoreError``) and
        nothing is written.
        Wakes waiters of ``wait_for_jobs`` (in this process at least).
        """
        parts = self._parts or await self._reopen()
        check.aware(now, "now")
        if not jobs:
            return []
        results = await parts.jobs.add(check.new_jobs(jobs, now), now)
        if any(r.created for r in results):
            self.notify_jobs()
        return results

    async def claim(
        self,
        *,
        queues: Sequence[str],
        worker: str,
        limit: int,
        lease_for: timedelta,
        now: datetime,
    ) -> list[Job]:
        """Claim up to ``limit`` runnable jobs from ``queues`` for ``worker``; atomic per job.

        Runnable: ``pending`` with ``due_at <= now``, or ``running`` with
        ``lease_expires_at <= now`` (its worker vanished). Order: priority descending, then
        due_at, then id. No job is handed to two claimers whose leases overlap, across all
        processes. Each claimed job becomes ``running`` with ``lease_owner=worker``,
        ``lease_expires_at=now+lease_for``, ``started_at=now``, ``token`` + 1, ``attempts`` + 1,
        and its progress (``progress``, ``progress_message``, ``progress_at``) cleared: what
        a previous attempt reported does not describe this one.

        Reclaiming an expired lease first records the lost attempt (outcome ``lease_lost``,
        number = the old token, worker = the old owner, finished_at = now) in the same atomic
        step. If that lost attempt was the job's last (``attempts >= max_attempts``) the job
        becomes ``failed`` (finished_at = now) instead of being claimed; such a job does not
        count against ``limit``. A lease is expired when ``lease_expires_at <= now``. Claim
        changes no job other than those it returns, those it fails this way and the expired
        ones its limits hold back (below), in claim order. Returns the claimed jobs as stored
        after the claim.

        **Limits.** The limits of a job are stored with it at ``add`` (``concurrency_key`` and
        ``concurrency_limit``; ``rate_key``, ``rate_limit`` and ``rate_period``), and the claim
        holds a job to them in the same atomic step as the claim itself, across every claimer
        of every process (stores/_gate.py has the arithmetic):

        * *concurrency*: a job with a concurrency key is claimed only while fewer than its own
          ``concurrency_limit`` jobs with that key are ``running`` with an unexpired lease
          (``lease_expires_at > now``), those claimed earlier in the same call included. The
          running jobs are counted, not a counter: the job of a worker that vanished stops
          counting when its lease expires, whoever reclaims it and whenever.
        * *rate*: a job with a rate key is claimed only when that key's token bucket has a
          token, and takes it. The bucket holds ``rate_limit`` tokens and gains one every
          ``rate_period / rate_limit`` seconds (whole microseconds, at least one): from a full
          bucket ``rate_limit`` jobs start at once (the burst), then one per interval, so any
          window of ``w`` seconds sees at most ``rate_limit * (1 + w / rate_period)`` claims.
          The store keeps one small record per key (GCRA's theoretical arrival time); one
          whose time has passed is a full bucket and may be forgotten (``purge``).
        * A job held back by a limit is *not claimed*: it stays exactly as it was (pending,
          no attempt, no history, same token), and the claim passes over it to the next
          runnable jobs in claim order, of its queue and the others. A job whose concurrency
          limit holds it back takes no token. An expired lease whose job its limits hold back
          gets its lost attempt recorded (or fails, as above) and becomes ``pending`` (lease
          cleared, due_at unchanged) instead of claimed. A store may stop looking after
          passing over about a thousand held-back jobs in one call (they wait for the next);
          jobs without limits are never held up by them.
        * Jobs without limits pay (almost) nothing for the feature.
        """
        parts = self._parts or await self._reopen()
        names = check.queue_names(queues)
        check.name(worker, "worker")
        until = check.expiry(now, lease_for, "lease_for")
        if not check.count(limit, "limit") or not names:
            return []
        return await parts.jobs.claim(names, worker, limit, until, now)

    async def heartbeat(
        self, leases: Sequence[LeaseRef], *, lease_for: timedelta, now: datetime
    ) -> list[str]:
        """Extend each lease to ``now + lease_for``, conditional on its token.

        Returns the ids of jobs whose lease is lost (token changed, job no longer running,
        cancelled, purged, or lease already expired at ``now``); their runs must stop.
        """
        parts = self._parts or await self._reopen()
        until = check.expiry(now, lease_for, "lease_for")
        if not leases:
            return []
        return await parts.jobs.heartbeat(leases, until, now)

    async def finish(self, results: Sequence[Finish], *, worker: str, now: datetime) -> list[bool]:
        """Record outcomes; per result, atomic and conditional on its token (and fence).

        A job with a concurrency key that stops running frees a slot: waiters of
        ``wait_for_jobs`` are woken (in this process at least; server stores publish it).

        For each result whose job is still ``running`` with that token (and, when
        ``result.fence`` is set, whose named lease still has that owner and token), in one
        atomic step: append the Attempt (number = token, this worker, started_at = the
        job's started_at, finished_at = now, outcome and error), clear the lease, and set
        the status (``Finish.final_status``), ``due_at = retry_at`` for a retry,
        ``finished_at`` (final outcomes only; a retry leaves it unchanged), ``last_error`` and
        ``result``; with ``result.progress``, also the progress as ``set_progress`` writes it
        (so the attempt's last progress lands with its outcome). A fence whose lease has
        expired at ``now`` is stale too. When a scheduled
        job ends ``failed``, its schedule's ``fail_count`` grows by one and ``last_error`` is
        set (without changing the schedule's version, so a fire commit in flight still lands).
        Returns, per result, whether it was applied (False: stale token — nothing written).
        """
        parts = self._parts or await self._reopen()
        check.aware(now, "now")
        check.name(worker, "worker")
        if not results:
            return []
        applied = await parts.jobs.finish(results, worker, now)
        if any(ok and r.retry_at is not None for ok, r in zip(applied, results, strict=True)):
            self.notify_jobs()  # retried jobs are pending again
        return applied

    async def release(self, leases: Sequence[LeaseRef], *, now: datetime) -> int:
        """Give back claimed work (shutdown, a busy task lock) without spending an attempt.

        Per lease, atomic and conditional on the token: the job becomes ``pending`` (due_at
        unchanged), the lease is cleared, ``attempts`` goes back down by one (not below 0), and
        an Attempt is appended to its history with outcome ``released`` (number = the token,
        worker = the lease owner, started_at = the job's started_at, finished_at = now, no
        error), so the history shows the claim and why it did not count. A lease named twice
        in one call is released once. Returns how many were released. Wakes waiters of
        ``wait_for_jobs``.
        """
        parts = self._parts or await self._reopen()
        check.aware(now, "now")
        if not leases:
            return 0
        released = await parts.jobs.release(leases, now)
        if released:
            self.notify_jobs()
        return released

    async def set_progress(self, lease: LeaseRef, progress: Progress, *, now: datetime) -> bool:
        """Record how far a running job is; atomic and conditional on the token.

        Only while the job is ``running`` with exactly ``lease.token``: sets ``progress =
        progress.fraction``, ``progress_message = progress.message`` and ``progress_at =
        now``, and changes nothing else (not the lease, not the status). Otherwise (a stale
        token, a job that ended, was cancelled or is unknown) nothing is written and it
        returns False: a worker that lost its lease cannot overwrite the progress of the
        attempt that replaced it. Returns True when written. Wakes no one.
        """
        parts = self._parts or await self._reopen()
        check.aware(now, "now")
        check.progress(progress)
        return await parts.jobs.set_progress(lease, progress, now)

    async def get_job(self, job_id: str) -> Job | None:
        """The job, or None."""
        parts = self._parts or await self._reopen()
        return await parts.jobs.get(job_id)

    async def list_jobs(self, flt: JobFilter) -> list[Job]:
        """Jobs matching every field the filter sets, at most ``flt.limit``, in id order:
        oldest first, or newest first with ``flt.newest_first``.

        Fields: ``status``, ``queue``, ``task``, ``schedule_id`` and ``key`` (the dedupe key)
        match exactly; ``after_id`` and ``before_id`` bound the ids, both exclusive, so a page
        goes on from the last id of the one before, whichever the order (keyset pagination).
        Ids are time-ordered (``rota._ids``), so a bound made from a time (``id_floor``)
        selects the jobs enqueued before or after it. A read, atomic per job.

        SQL stores and MongoDB answer each field from an index, so a page costs the same on
        a table of a million jobs as on an empty one (a combination of fields walks the index
        of one of them); Redis looks ids up in id order, a bounded number per script run,
        except for ``key`` and ``running`` jobs, which it finds directly; the memory store
        walks its ids in order.
        """
        parts = self._parts or await self._reopen()
        if not check.count(flt.limit, "limit"):
            return []
        return await parts.jobs.find(flt)

    async def count_finished(
        self, *, since: datetime, until: datetime, bucket: timedelta
    ) -> list[FinishedCount]:
        """How many jobs finished (succeeded, failed or cancelled) in each ``bucket`` of time
        from ``since`` to ``until``, per queue and final status: the dashboard's throughput.

        A job counts in the bucket of its ``finished_at``: bucket ``k`` covers
        ``[since + k*bucket, since + (k+1)*bucket)`` and the last one ends at ``until``
        (exclusive). ``since`` and ``until`` are taken to the millisecond (truncated);
        ``bucket`` must be a positive whole number of milliseconds and make at most
        ``MAX_BUCKETS`` buckets (``ConfigError``); ``until <= since`` asks for nothing.
        Returns the non-empty counts ordered by bucket start, queue, status. Jobs purged are
        no longer counted. A read served by the index of finished jobs by time (never a scan
        of the jobs table); Redis and MongoDB count in pages, so a job finishing or purged
        during the call may be counted or not.
        """
        parts = self._parts or await self._reopen()
        start, end, size = check.buckets(since, until, bucket, MAX_BUCKETS)
        if end <= start:
            return []
        return await parts.jobs.count_finished(start, end, size)

    async def get_attempts(self, job_id: str) -> list[Attempt]:
        """The job's attempt history, by attempt number."""
        parts = self._parts or await self._reopen()
        return await parts.jobs.attempts(job_id)

    async def cancel(self, job_id: str, *, now: datetime) -> Job:
        """Cancel a pending or running job; atomic.

        ``pending``: becomes ``cancelled``. ``running``: becomes ``cancelled``, an attempt with
        outcome ``cancelled`` is recorded and the lease is cleared, so the worker's next
        heartbeat reports it lost and stops the run (a running job with a concurrency key
        frees its slot at once, and wakes waiters as ``finish`` does). Raises
        ``JobNotFound``; ``InvalidState`` for a job already finished. Returns the job after
        the change.
        """
        parts = self._parts or await self._reopen()
        return await parts.jobs.cancel(job_id, check.aware(now, "now"))

    async def requeue(self, job_id: str, *, now: datetime) -> Job:
        """Run a ``failed`` or ``cancelled`` job again: ``pending``, due now, ``attempts = 0``,
        ``finished_at`` cleared.

        Atomic. History is kept. Raises ``JobNotFound``; ``InvalidState`` for other statuses.
        Wakes waiters of ``wait_for_jobs``.
        """
        parts = self._parts or await self._reopen()
        job = await parts.jobs.requeue(job_id, check.aware(now, "now"))
        self.notify_jobs()
        return job

    async def purge(
        self,
        *,
        finished_before: datetime,
        limit: int = 1000,
        statuses: Collection[JobStatus] | None = None,
    ) -> int:
        """Delete up to ``limit`` finished jobs (and their attempts) with
        ``finished_at < finished_before``, oldest ``finished_at`` first, in batches that do not
        block claims. Frees their dedupe keys. Returns how many. A store may also forget rate
        buckets full since ``finished_before`` (the same as no record: see ``claim``).

        ``statuses`` (None: every final status) keeps the deletion to jobs whose status is in
        it; only final statuses (succeeded, failed, cancelled) can match, so pending and
        running jobs are never deleted; an empty collection deletes nothing, as does a
        ``limit`` of 0."""
        parts = self._parts or await self._reopen()
        check.aware(finished_before, "finished_before")
        wanted = check.final_statuses(statuses)
        if not check.count(limit, "limit") or not wanted:
            return 0
        return await parts.jobs.purge(finished_before, limit, wanted)

    async def stats(self, *, now: datetime | None = None) -> QueueStats:
        """Job counts per queue and status (queues and statuses with no job may be absent).

        With ``now``, also ``delayed``: per queue, how many of its pending jobs have
        ``due_at > now`` (a part of its pending count; queues with none are absent). Read from
        the pending jobs' due-time order (an index), never by scanning every job.
        """
        parts = self._parts or await self._reopen()
        return await parts.jobs.stats(None if now is None else check.aware(now, "now"))

    async def next_due(self, *, queues: Sequence[str]) -> datetime | None:
        """The earliest ``due_at`` of a pending job (or ``lease_expires_at`` of a running
        one) in ``queues``; None when there is none. Lets idle workers sleep exactly.

        A pending job with limits counts from when they may let a claim take it: a job whose
        concurrency key has at least its limit of jobs running, from the earliest lease
        expiry among them (a slot that frees before, by a finish, release or cancel, wakes
        waiters instead); a job with a rate limit, no earlier than its bucket's next token.
        Never later than the first claim could take one of them; possibly earlier (callers
        check with ``claim``): a store may weigh only the first thousand or so such jobs in
        due order and count the rest from their due times."""
        parts = self._parts or await self._reopen()
        names = check.queue_names(queues)
        return await parts.jobs.next_due(names) if names else None

    # -- schedules -----------------------------------------------------------------------

    async def put_schedule(self, schedule: Schedule, *, now: datetime) -> Schedule:
        """Create a schedule, or update an existing one's definition; atomic.

        New id: stored as given (version 1). Existing id with the same definition
        (``Schedule.same_definition``): nothing is written and the stored schedule is
        returned, so several instances declaring the same schedule never fight. Otherwise
        the definition fields are replaced, state (run/fail counts, paused, last fire) is
        kept, the lease is cleared and the version grows; ``next_fire_at`` is taken from the
        argument only when the trigger changed. Wakes waiters of ``wait_for_schedules``.
        """
        parts = self._parts or await self._reopen()
        stored, written = await parts.schedules.put(schedule, check.aware(now, "now"))
        if written:
            self.notify_schedules()
        return stored

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        """The schedule, or None."""
        parts = self._parts or await self._reopen()
        return await parts.schedules.get(schedule_id)

    async def list_schedules(self) -> list[Schedule]:
        """All schedules, by id."""
        parts = self._parts or await self._reopen()
        return await parts.schedules.all()

    async def remove_schedule(self, schedule_id: str) -> bool:
        """Delete the schedule (its jobs stay). Returns whether it existed."""
        parts = self._parts or await self._reopen()
        removed = await parts.schedules.remove(schedule_id)
        if removed:
            self.notify_schedules()
        return removed

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        """Pause or resume; atomic; clears the lease and bumps the version.

        On resume ``next_fire_at`` (computed by the caller from ``now``) replaces the stored
        one when given. Raises ``ScheduleNotFound``. Wakes waiters of ``wait_for_schedules``.
        """
        parts = self._parts or await self._reopen()
        check.aware(now, "now")
        if next_fire_at is not None:
            check.aware(next_fire_at, "next_fire_at")
        stored = await parts.schedules.set_paused(schedule_id, paused, next_fire_at, now)
        self.notify_schedules()
        return stored

    async def acquire_schedules(
        self,
        *,
        owner: str,
        limit: int,
        lease_for: timedelta,
        now: datetime,
        fence: Fence | None = None,
    ) -> list[Schedule]:
        """Lease up to ``limit`` due schedules to ``owner``; atomic per schedule.

        Due: not paused, ``next_fire_at <= now``, and no unexpired lease. Order: next_fire_at.
        Each acquired schedule gets ``lease_owner``, ``lease_expires_at = now + lease_for``
        and a new version; returns them as stored after the change.

        With ``fence`` (the leader's term): nothing is acquired unless that named lease is
        held by ``fence.owner`` with ``fence.token`` and unexpired at ``now`` (checked in the
        same atomic step, or, for MongoDB, just before: see docs/mongodb.md). A schedule
        whose lease was taken under an older term of the same lease (``lease_fence_name ==
        fence.name`` and ``lease_fence_token < fence.token``) is due too, whatever its lease
        expiry: that term has ended, so its pass can never commit, and the new leader must
        not wait out its lease. Acquired schedules record ``lease_fence_name`` and
        ``lease_fence_token``; without a fence both are cleared (None). Every write that clears
        a schedule's lease (commit, definition change, pause/resume) clears them as well.
        Takeover needs no index of its own: a schedule taken over is due (``next_fire_at <=
        now``), so the due-schedules index finds it.
        """
        parts = self._parts or await self._reopen()
        check.name(owner, "owner")
        until = check.expiry(now, lease_for, "lease_for")
        if not check.count(limit, "limit"):
            return []
        return await parts.schedules.acquire(owner, limit, until, now, fence)

    async def commit_fires(self, commit: FireCommit, *, now: datetime) -> bool:
        """Record one scheduler pass for one schedule; atomic.

        Conditional on the schedule still existing with ``commit.version`` and leased to
        ``commit.owner`` (and on ``commit.fence`` when set). Adds ``commit.jobs`` as ``add``
        does (a key that exists creates nothing), sets next/last fire times, grows
        ``run_count`` by the jobs created, sets ``last_job_id`` to the last commit job's stored
        id (the existing job's id when its key already existed) when there are jobs,
        clears the lease (owner, expiry and fence) and bumps the version. Returns False,
        writing nothing, when the condition fails: a pass whose schedule was taken over by a
        newer term (its version moved on) never commits. Wakes waiters of ``wait_for_jobs``
        when jobs were created.
        """
        parts = self._parts or await self._reopen()
        check.aware(now, "now")
        jobs = check.new_jobs(commit.jobs, now)
        if jobs is not commit.jobs:
            commit = dataclasses.replace(commit, jobs=tuple(jobs))
        applied, created = await parts.schedules.commit(commit, now)
        if created:
            self.notify_jobs()
        if applied:
            self.notify_schedules()
        return applied

    async def next_schedule_due(self) -> datetime | None:
        """The earliest ``next_fire_at`` of an unpaused schedule (leased ones included, at
        their lease expiry if later); None when none will fire. Indexed: no scan."""
        parts = self._parts or await self._reopen()
        return await parts.schedules.next_due()

    # -- named leases (leader election, locks) ---------------------------------------------

    async def acquire_lease(self, name: str, *, owner: str, ttl: timedelta, now: datetime) -> Lease | None:
        """Take the named lease if it is free or expired at ``now``; atomic.

        On success the token is one more than any token this name ever had (tokens never go
        back, even after release or expiry), ``acquired_at = now`` and
        ``expires_at = now + ttl``. Returns None when another owner holds an unexpired lease,
        and also when ``owner`` itself holds it (use ``renew_lease``).
        """
        parts = self._parts or await self._reopen()
        check.name(name, "lease name")
        check.name(owner, "owner")
        return await parts.leases.acquire(name, owner, check.expiry(now, ttl, "ttl"), now)

    async def renew_lease(
        self, name: str, *, owner: str, token: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        """Extend to ``now + ttl`` if ``owner`` holds it with ``token`` and it has not expired
        at ``now``; atomic. Returns the lease, or None when it is lost."""
        parts = self._parts or await self._reopen()
        check.name(name, "lease name")
        check.name(owner, "owner")
        return await parts.leases.renew(name, owner, token, check.expiry(now, ttl, "ttl"), now)

    async def release_lease(self, name: str, *, owner: str, token: int, now: datetime) -> bool:
        """End the lease now if ``owner`` holds it with ``token``; the token is kept so the
        next owner's is higher. Returns whether it was released."""
        parts = self._parts or await self._reopen()
        check.name(name, "lease name")
        check.name(owner, "owner")
        return await parts.leases.release(name, owner, token, check.aware(now, "now"))

    async def get_lease(self, name: str, *, now: datetime) -> Lease | None:
        """The current unexpired holder of the named lease, or None."""
        parts = self._parts or await self._reopen()
        check.name(name, "lease name")
        return await parts.leases.get(name, check.aware(now, "now"))

    async def list_leases(self, *, now: datetime) -> list[Lease]:
        """Every named lease held at ``now`` (unexpired, not released), by name: the leader's
        and the locks', for the dashboard. A read; SQL stores answer from an index on the
        expiry, Redis from its set of lease names."""
        parts = self._parts or await self._reopen()
        return await parts.leases.all(check.aware(now, "now"))

    # -- live workers ----------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo, *, ttl: timedelta, now: datetime) -> WorkerInfo:
        """Register a live worker, or refresh its entry; atomic.

        Stores ``info`` under ``info.id`` (replacing every field of an entry with that id)
        with ``last_heartbeat = now`` and ``expires_at = now + ttl``, and returns it as
        stored. A worker calls it when it starts and again with each heartbeat, so its entry
        lives as long as it does. ``ConfigError`` for an empty id, host or version, a
        negative pid, concurrency or running count, or queue names that are not non-empty text.
        """
        parts = self._parts or await self._reopen()
        until = check.expiry(now, ttl, "ttl")
        check.worker_info(info)
        return await parts.workers.register(info, until, now)

    async def list_workers(self, *, now: datetime) -> list[WorkerInfo]:
        """The live workers, by id: the entries whose ``expires_at`` is later than ``now``.

        Expired entries are never listed (their worker stopped refreshing them: it crashed
        or was cut off), and are deleted, by this call or a later one.
        """
        parts = self._parts or await self._reopen()
        return await parts.workers.live(check.aware(now, "now"))

    async def unregister_worker(self, worker_id: str) -> bool:
        """Remove a worker's entry (a worker that stops calls it). Returns whether it existed
        (an expired entry not yet deleted counts)."""
        parts = self._parts or await self._reopen()
        check.name(worker_id, "worker id")
        return await parts.workers.remove(worker_id)

    # -- wake-ups --------------------------------------------------------------------------

    def notify_jobs(self) -> None:
        """Wake local waiters of ``wait_for_jobs``. Server stores also publish cross-process."""
        self._jobs_changed.set()

    def notify_schedules(self) -> None:
        """Wake local waiters of ``wait_for_schedules``."""
        self._schedules_changed.set()

    async def wait_for_jobs(self, timeout: float) -> bool:
        """Wait up to ``timeout`` real seconds for new or changed jobs; True when woken.

        May return early or spuriously: callers always re-check with ``claim``. Stores that
        cannot hear other processes rely on the caller's polling interval.
        """
        return await _wait_event(self._jobs_changed, timeout)

    async def wait_for_schedules(self, timeout: float) -> bool:
        """Wait up to ``timeout`` real seconds for schedule changes; True when woken."""
        return await _wait_event(self._schedules_changed, timeout)

    async def wait_reconnected(self) -> None:
        """Return once the store, having lost its connection to its server, has it back.

        For callers waiting out a backoff after ``StoreUnavailable``: they retry at once
        rather than sleep on, so an outage ends for them when the server returns, not at the
        end of their current backoff step. Must not return while no connection was lost (that
        would defeat the backoff). Optional: the default never returns, leaving callers to
        their backoff; the PostgreSQL store returns when its listening connection is back.
        """
        await asyncio.Event().wait()


async def _wait_event(event: asyncio.Event, timeout: float) -> bool:
    if not event.is_set():
        try:
            async with asyncio.timeout(max(0.0, timeout)):
                await event.wait()
        except TimeoutError:
            return False
    event.clear()
    return True
