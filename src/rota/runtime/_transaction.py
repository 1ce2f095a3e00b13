"""Committing ``ctx.transaction()`` (``jobcontext.RunTransaction``): a handler's writes and
its job's success, committed together.

The handler enters ``async with ctx.transaction() as conn`` and writes on ``conn``. Leaving
the block does not commit: the transaction stays open until the handler returns. Then the
worker records the success on that same connection (conditional on the run's token, and on
its lock's fence, as every outcome is) and commits once: the writes and the success are
durable together, or neither is. If the handler raises (or times out, or is stopped), or
the lease is gone by then, the transaction rolls back and nothing of it remains; the
attempt then ends as any other would (a failure to retry, a lost lease). docs/postgres.md,
"Transactional enqueue and exactly-once effects", states what this guarantees and what not.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import TYPE_CHECKING, Protocol

from rota._clock import Clock
from rota._models import ErrorInfo, Finish, Job, Outcome
from rota.runtime._runs import Run, Stop, cancel_watchdog
from rota.runtime.context import Handler
from rota.runtime.outcomes import error_info
from rota.stores._transactional import CommitUnknown

if TYPE_CHECKING:
    from rota.runtime._progress import ProgressWriter

log = logging.getLogger("rota.worker")


class SettlingWorker(Protocol):
    """What ``commit_with_success`` needs of the worker (``Worker`` is one)."""

    id: str
    clock: Clock
    _progress_writer: ProgressWriter

    def _record(self, run: Run, finish: Finish) -> None: ...
    def _drop(self, run: Run, reason: Stop) -> None: ...
    def _settled(self, run: Run, fin: Finish, applied: bool) -> None: ...
    def _failure(self, job: Job, task: Handler | None, outcome: Outcome, error: ErrorInfo) -> Finish: ...


async def commit_with_success(worker: SettlingWorker, run: Run, task: Handler | None, finish: Finish) -> bool:
    """Settle a run whose handler returned with its transaction open: the success and the
    handler's writes commit together (or roll back together when the lease is gone). False:
    the run has no open transaction; the caller records ``finish`` as usual."""
    tx = run.transaction
    if tx is None or tx.joined is None:
        return False
    if run.finishing:  # given back at shutdown while its handler ran on: not ours to commit
        await tx.discard()
        return True
    joined, tx.joined = tx.joined, None
    if run.lock is not None:
        finish = dataclasses.replace(finish, fence=run.lock.fence)
    if run.progress is not None:
        last = worker._progress_writer.pending(run)
        if last is not None:
            finish = dataclasses.replace(finish, progress=last)
    # settled from here on: no timeout or stop cancels the commit halfway
    run.finishing = True
    run.settled = finish
    if run.started is not None:
        run.duration = worker.clock.monotonic() - run.started
    cancel_watchdog(run)
    try:
        applied = await joined.commit_success(finish, worker=worker.id, now=worker.clock.now())
    except CommitUnknown as exc:
        # committed (success and writes) or not at all; which, only the database knows. Write
        # nothing: if it committed, the job is succeeded and no one runs it again; if not,
        # its lease runs out and another run does it all again.
        log.warning("job %s: %s; its lease decides", run.job.id, exc)
        run.finishing, run.settled, run.reason = False, None, Stop.LEASE_LOST
        worker._drop(run, Stop.LEASE_LOST)
        return True
    except Exception as exc:  # before the commit: rolled back, nothing kept; an ordinary failure
        run.finishing, run.settled, run.error = False, None, exc
        worker._record(run, worker._failure(run.job, task, Outcome.FAILED, error_info(exc)))
        return True
    worker._settled(run, finish, applied)
    return True
