"""Storing the progress handlers report (``JobContext.progress``), throttled per job.

A report is written at once when its job's last write started at least ``INTERVAL`` seconds
ago; otherwise it waits for that moment (one timer per job; a later report replaces the
value waiting). Writes of one job never overlap, so they land in order. A value still
unwritten when the handler ends goes with the outcome (``Finish.progress``), so the last
report always lands unless the outcome itself is dropped. Every write is conditional on the
run's token: a worker that lost the lease writes nothing. Progress is informative: a failed
write is logged at debug level and retried with the next write, never an error of the job.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

from rota._clock import Clock
from rota._models import Progress
from rota.runtime._runs import ProgressState, Run
from rota.runtime.jobcontext import DONE
from rota.stores.base import Store

log = logging.getLogger("rota.worker")

#: The least time, in seconds, between two progress writes of one job.
INTERVAL = 1.0


class ProgressWriter:
    """Stores the progress of one worker's runs (see the module docstring)."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._deferred: set[ProgressState] = set()  # those with a timer

    def report(self, run: Run, progress: Progress, /) -> Awaitable[None]:
        """Take a report (on the worker's loop); the awaitable ends once it is written, or at
        once when the throttle defers it."""
        if run.finishing:
            return DONE  # the handler has ended: its outcome is already on its way
        state = run.progress
        if state is None:
            state = run.progress = ProgressState(progress)
        else:
            state.latest, state.dirty = progress, True
        if state.busy:
            return DONE  # written (or deferred) when the write in flight ends
        wait = state.next_at - self._clock.monotonic()
        if wait > 0:
            self._defer(run, state, wait)
            return DONE
        return self._start(run, state)

    def pending(self, run: Run) -> Progress | None:
        """The progress to write with the run's outcome: the last report, unless it is known
        to be stored. No write of the run starts after this."""
        state = run.progress
        if state is None:
            return None
        self._cancel_timer(state)
        return state.latest if state.dirty or state.busy else None

    def close(self) -> None:
        """Stop what is left (the worker has stopped): timers and writes in flight."""
        for state in list(self._deferred):
            self._cancel_timer(state)
        for task in self._tasks:
            task.cancel()

    def _cancel_timer(self, state: ProgressState) -> None:
        if state.timer is not None:
            state.timer.cancel()
            state.timer = None
        self._deferred.discard(state)

    def _defer(self, run: Run, state: ProgressState, wait: float) -> None:
        if state.timer is None:
            state.timer = self._clock.call_later(max(0.0, wait), lambda: self._due(run, state))
            self._deferred.add(state)

    def _due(self, run: Run, state: ProgressState) -> None:
        state.timer = None
        self._deferred.discard(state)
        if state.dirty and not state.busy and not run.finishing:
            self._start(run, state)

    def _start(self, run: Run, state: ProgressState) -> asyncio.Task[None]:
        state.busy = True
        task = asyncio.ensure_future(self._write(run, state))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _write(self, run: Run, state: ProgressState) -> None:
        value, state.dirty = state.latest, False
        state.next_at = self._clock.monotonic() + INTERVAL
        try:
            await self._store.set_progress(run.ref, value, now=self._clock.now())
        except Exception as exc:  # informative only: never the job's failure
            if state.latest is value:
                state.dirty = True  # try again with the next write, or with the outcome
            log.debug("job %s: progress not stored: %s", run.job.id, exc)
        finally:
            state.busy = False
        if state.dirty and not run.finishing:
            self._defer(run, state, state.next_at - self._clock.monotonic())
