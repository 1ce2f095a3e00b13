"""Stopping a run whose job was aborted (``app.abort``) while it ran.

The store records the ``aborted`` attempt and revokes the lease in one step, then announces
the job's id (``Store.watch_ended``: across processes on PostgreSQL and Redis, in this
process elsewhere). The worker running it checks the store, never the announcement alone
(a wake-up may be spurious), and stops the run: an ``async def`` handler is cancelled, a
plain ``def`` handler (which cannot be) sees ``JobContext.aborted``. Where no announcement
reaches the worker (SQLite, MongoDB across processes), its next heartbeat finds the lease
gone, within a third of the lease, and the same check tells an abort from a lost lease.
Nothing is recorded for the run: the abort already did.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from rota._models import Attempt, ErrorInfo, Outcome
from rota.runtime._runs import Run, Stop
from rota.runtime.context import RuntimeContext

log = logging.getLogger("rota.worker")


class Aborts:
    """The worker's part that hears of aborted jobs (a mixin of ``Worker``)."""

    context: RuntimeContext
    _running: dict[str, Run]
    _checks: set[asyncio.Future[None]]

    if TYPE_CHECKING:

        def _cancel(self, run: Run, reason: Stop) -> None: ...

    def _heard_ended(self, job_id: str | None) -> None:
        """A ``watch_ended`` callback. Only the id of a job this worker runs matters; an
        unnamed "some jobs ended" is left to the heartbeat."""
        if job_id is None:
            return
        run = self._running.get(job_id)
        if run is None or run.finishing or run.reason is not None or run.lost or run.checking:
            return
        run.checking = True
        check = asyncio.ensure_future(self._check_ended(run))
        self._checks.add(check)
        check.add_done_callback(self._checks.discard)

    async def _check_ended(self, run: Run) -> None:
        try:
            ended = await self._ended_attempt(run)
        except Exception as exc:  # the heartbeat finds out instead
            log.debug("job %s: could not check whether it ended (%s)", run.job.id, exc)
            return
        finally:
            run.checking = False
        if ended is not None:
            self._stop_ended(run, ended)

    async def _stop_lost(self, run: Run) -> None:
        """The heartbeat found the run's lease gone: stop it, as aborted if it was."""
        try:
            ended = await self._ended_attempt(run)
        except Exception:
            ended = None
        if ended is not None and ended.outcome is Outcome.ABORTED:
            self._stop_ended(run, ended)
        else:
            self._cancel(run, Stop.LEASE_LOST)

    async def _ended_attempt(self, run: Run) -> Attempt | None:
        """The attempt the store recorded for this run's claim, once it ended there (by an
        abort, a cancel, a finish or a reclaim of its lease); None while the claim is live."""
        token = run.job.token
        for attempt in await self.context.store.get_attempts(run.job.id):
            if attempt.number == token:
                return attempt
        return None

    def _stop_ended(self, run: Run, attempt: Attempt) -> None:
        run.lost = True  # no more heartbeats for it
        if attempt.outcome is not Outcome.ABORTED:
            self._cancel(run, Stop.LEASE_LOST)
            return
        if not run.finishing and run.reason is None:
            # before the cancel: a plain def handler learns it from here
            run.abort = ErrorInfo(attempt.error_type or "Aborted", attempt.error_message or "")
            run.aborted = True
        self._cancel(run, Stop.ABORTED)
