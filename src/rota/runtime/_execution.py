"""Running one claimed job: its handler (on the loop, or in a thread for plain ``def``), its
timeout, and what its end means (success, a failure to retry, a job given back)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from typing import TYPE_CHECKING

from rota._clock import Clock
from rota._errors import PayloadError, ResultError, TaskNotFound
from rota._events import Event, EventKind
from rota._models import ErrorInfo, Finish, Job, Outcome
from rota._signals import Cancel, Retry
from rota.runtime._progress import ProgressWriter
from rota.runtime._runs import Run, Stop, WorkerCounters
from rota.runtime._transaction import commit_with_success
from rota.runtime.context import Handler, RuntimeContext
from rota.runtime.jobcontext import CURRENT_RUN, JobContext, context_of
from rota.runtime.locks import LockBusy, acquire_task_lock
from rota.runtime.outcomes import encode_result, error_info, failure
from rota.runtime.threads import DaemonThreadPool
from rota.stores._salvage import job_defect

log = logging.getLogger("rota.worker")


class Execution:
    """The worker's part that runs jobs (a mixin of ``Worker``)."""

    context: RuntimeContext
    clock: Clock
    id: str
    lease: float  # seconds
    rng: random.Random
    counters: WorkerCounters
    _progress_writer: ProgressWriter
    _running: dict[str, Run]
    _pool: DaemonThreadPool | None
    _loop: asyncio.AbstractEventLoop | None

    if TYPE_CHECKING:

        def _record(self, run: Run, finish: Finish) -> None: ...

        def _drop(self, run: Run, reason: Stop) -> None: ...

        def _settled(self, run: Run, fin: Finish, applied: bool) -> None: ...

    def _launch(self, job: Job) -> None:
        run = Run(job, store=self.context.store)
        self._running[job.id] = run
        self.counters.claimed += 1
        run.task = asyncio.create_task(self._execute(run))
        # (under an eager task factory a handler that never suspends has already settled)
        if job.timeout and job.defect is None and not run.finishing:
            run.watchdog = self.clock.call_later(job.timeout, lambda: self._cancel(run, Stop.TIMEOUT))

    def _cancel(self, run: Run, reason: Stop) -> None:
        if run.finishing or run.reason is not None or run.task is None:
            return
        run.reason = reason
        run.task.cancel()

    async def _execute(self, run: Run) -> None:
        tracing = self.context.tracing
        span = tracing.run(run.job, self.id) if tracing is not None else None
        try:
            await self._attempt(run)
        except asyncio.CancelledError:
            raise  # cancelled from outside rota before an outcome (the loop is closing)
        except BaseException as exc:  # a fault of rota's: never leave a run holding its slot
            log.error("job %s: error while settling its run", run.job.id, exc_info=exc)
            if not run.finishing:
                job = run.job
                self._record(run, Finish(job.id, job.token, Outcome.FAILED, error=error_info(exc)))
        finally:
            if span is not None:
                settled = run.settled
                span.end(run.outcome, run.error, settled.error if settled is not None else None)

    async def _attempt(self, run: Run) -> None:
        job = run.job
        defect = job_defect(job)
        if defect is not None:
            # a stored row no run can use (an old version's, a hand edit, corruption): this
            # job fails for good, with the reason, and the worker carries on
            log.warning("job %s cannot run: %s", job.id, defect)
            error = ErrorInfo("InvalidJob", f"the stored job cannot run: {defect}")
            self._record(run, Finish(job.id, job.token, Outcome.FAILED, error=error))
            return
        task = self.context.tasks.get(job.task)
        try:
            result = await self._invoke(run, task)
        except asyncio.CancelledError as exc:
            if run.reason is None:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise  # cancelled from outside rota (the loop is closing): let it end
                # the handler itself raised CancelledError: an ordinary failed attempt, never a
                # run that silently vanishes while its lease is renewed forever
                run.error = exc
                self._record(run, self._failure(job, task, Outcome.FAILED, error_info(exc)))
                return
            self._ended_by_us(run, task)
        except BaseException as exc:
            # SystemExit, KeyboardInterrupt, GeneratorExit... raised by a handler are its
            # failures like any other: the worker's own cancellation is the branch above
            if run.reason is not None:  # the handler turned our cancellation into an error
                self._ended_by_us(run, task)
                return
            run.error = exc
            if isinstance(exc, Retry):
                error = ErrorInfo("Retry", str(exc))
                self._record(run, self._failure(job, task, Outcome.FAILED, error, after=exc.after))
            elif isinstance(exc, Cancel):
                self._record(
                    run, Finish(job.id, job.token, Outcome.CANCELLED, error=ErrorInfo("Cancel", exc.reason))
                )
            else:
                permanent = isinstance(exc, PayloadError)
                self._record(
                    run, self._failure(job, task, Outcome.FAILED, error_info(exc), permanent=permanent)
                )
        else:
            try:
                data = encode_result(result, self.context.config.max_payload_bytes)
            except ResultError as exc:  # a failed attempt (retried as any), never a lost result
                run.error = exc
                if run.transaction is not None:  # ctx.transaction(): nothing of the run's is kept
                    await run.transaction.discard()
                self._record(run, self._failure(job, task, Outcome.FAILED, error_info(exc)))
                return
            # (a handler released at shutdown while it ran on: _record ignores it, too late)
            finish = Finish(job.id, job.token, Outcome.SUCCEEDED, result=data)
            if run.transaction is None or not await commit_with_success(self, run, task, finish):
                self._record(run, finish)

    async def _invoke(self, run: Run, task: Handler | None) -> object:
        """Decode the payload, take the task's lock, and run the handler; its result."""
        job = run.job
        if task is None:
            raise TaskNotFound(f"task {job.task!r} is not registered on worker {self.id}")
        payload = task.decode(job.payload)
        if task.lock is not None:
            try:
                run.lock = await acquire_task_lock(
                    self.context, task, payload, owner=f"{self.id}/{job.id}", ttl=self.lease,
                    wait=self.lease / 3, on_lost=lambda: self._cancel(run, Stop.LOCK_LOST),
                )  # fmt: skip
            except LockBusy:
                run.reason = Stop.LOCK_BUSY  # given back: the attempt is not spent
                raise
        run.started = self.clock.monotonic()
        events = self.context.events
        if events.wants(EventKind.STARTED):
            events.emit(Event(EventKind.STARTED, job, worker=self.id))
        loop = self._loop
        assert loop is not None
        assert self._pool is not None
        # current_job() anywhere in the run (this task's context, copied to a def handler's
        # thread); the JobContext itself is made only for a handler that takes one. Reset at
        # the end: the task keeps its context, and a context holding the run would make a
        # reference cycle (run -> task -> context -> run) that only the garbage collector frees
        current = CURRENT_RUN.set((run, self._progress_writer, loop))
        try:
            context: JobContext | None = None
            if task.wants_context:
                context = context_of(run, self._progress_writer, loop)
            if task.is_async:
                return await task.invoke(payload, context)
            ctx = contextvars.copy_context()
            result = await loop.run_in_executor(self._pool, ctx.run, _call_sync, task, payload, context)
        except BaseException:
            if run.transaction is not None:  # ctx.transaction(): nothing of the run's is kept
                await run.transaction.discard()
            raise
        finally:
            CURRENT_RUN.reset(current)
        if isinstance(result, _Raised):
            raise result.exc  # here, in a coroutine, with the handler's own traceback
        return result

    def _ended_by_us(self, run: Run, task: Handler | None) -> None:
        """The run ended because the worker stopped it (``run.reason``)."""
        current = asyncio.current_task()
        if current is not None and current.cancelling():
            current.uncancel()
        if run.reason is Stop.TIMEOUT:
            error = ErrorInfo("TimeoutError", f"timed out after {run.job.timeout:g}s")
            self._record(run, self._failure(run.job, task, Outcome.TIMED_OUT, error))
        else:
            self._drop(run, run.reason or Stop.SHUTDOWN)

    def _failure(
        self,
        job: Job,
        task: Handler | None,
        outcome: Outcome,
        error: ErrorInfo,
        *,
        after: float | None = None,
        permanent: bool = False,
    ) -> Finish:
        policy = task.retry if task is not None else None
        return failure(
            job, policy, outcome, error, now=self.clock.now(), rng=self.rng, after=after, permanent=permanent
        )


class _Raised:
    """A ``BaseException`` that is not an ``Exception`` (SystemExit, KeyboardInterrupt,
    GeneratorExit...) raised by a plain ``def`` handler, carried back as a result: asyncio's
    futures do not carry such exceptions faithfully (GeneratorExit escapes the awaiting
    coroutine's handlers), so the worker raises it again itself."""

    __slots__ = ("exc",)

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def _call_sync(task: Handler, payload: object, context: JobContext | None) -> object:
    try:
        return task.call_sync(payload, context)
    except Exception:
        raise
    except BaseException as exc:
        return _Raised(exc)
