"""``MemoryStore``: a real implementation of the ``Store`` contract in this process's memory."""

from __future__ import annotations

from rota.stores._parts import Parts
from rota.stores.base import Store
from rota.stores.memory._config import MemoryConfig
from rota.stores.memory._jobs import MemoryJobs
from rota.stores.memory._leases import MemoryLeases
from rota.stores.memory._schedules import MemorySchedules, ScheduleBook
from rota.stores.memory._workers import MemoryWorkers


class MemoryStore(Store):
    """All state in dicts and heaps of this process (``shared=False``), lost when it exits.
    Closing it releases nothing: opened again, it finds its data as it was."""

    kind = "memory"
    shared = False

    def __init__(self, config: MemoryConfig | None = None) -> None:
        super().__init__()
        self.config = config or MemoryConfig()
        leases = MemoryLeases()
        book = ScheduleBook()
        jobs = MemoryJobs(leases, book, self.notify_jobs)
        schedules = MemorySchedules(book, jobs, leases)
        self._state = Parts(jobs=jobs, schedules=schedules, leases=leases, workers=MemoryWorkers())

    def describe(self) -> str:
        return "memory (this process only)"

    async def _open(self) -> Parts:
        return self._state


def from_url(url: str) -> MemoryStore:
    """``memory://`` (nothing else is accepted: the store has no host, path or options)."""
    return MemoryStore(MemoryConfig.from_url(url))
