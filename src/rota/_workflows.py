"""Groups and chains: shapes of dependencies (docs/workflows.md). No coordinator process:
each is one ``enqueue_many`` whose jobs carry their parents, and the store releases each
job when its parents end (``Store.add``, "Dependencies")."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from rota._errors import ConfigError
from rota._models import Job
from rota._task import JobSpec


class App(Protocol):
    """What groups and chains need of the App: its bulk enqueue."""

    async def enqueue_many(self, specs: Iterable[JobSpec]) -> list[Job]: ...


@dataclass(frozen=True, slots=True)
class Group:
    """What ``App.group`` queued: the members, and the callback (None without ``then``).

    The callback runs once every member succeeded (with ``after_failure="run"`` on its spec:
    once every member ended, however). It receives the payload it was prepared with; the
    members are its parents (``Job.parents``; in the handler, ``app.get_job(current_job().job_id)``),
    and their return values are readable with ``app.get_job(id).result``."""

    jobs: list[Job]
    callback: Job | None

    @property
    def ids(self) -> list[str]:
        return [job.id for job in self.jobs]


def _specs(specs: Iterable[JobSpec], what: str) -> list[JobSpec]:
    out = list(specs)
    if not out or not all(isinstance(s, JobSpec) for s in out):
        raise ConfigError(f"{what} takes one or more JobSpecs (task.prepare(...))")
    return out


async def group(app: App, specs: Iterable[JobSpec], then: JobSpec | None) -> Group:
    """Queue the members and the callback in one ``enqueue_many`` (all or nothing)."""
    members = _specs(specs, "group")
    if then is None:
        return Group(await app.enqueue_many(members), None)
    if not isinstance(then, JobSpec):
        raise ConfigError(f"then takes a JobSpec (task.prepare(...)), got {type(then).__name__}")
    callback = dataclasses.replace(then, after=(*(then.after or ()), *members))
    jobs = await app.enqueue_many([*members, callback])
    return Group(jobs[:-1], jobs[-1])


async def chain(app: App, specs: Sequence[JobSpec]) -> list[Job]:
    """Queue a chain in one ``enqueue_many``: each link after the one before, taking its
    result as payload (the payload the link was prepared with is replaced when it is
    released; the first link keeps its own)."""
    links = _specs(specs, "chain")
    out = [links[0]]
    for spec in links[1:]:
        if spec.after:
            raise ConfigError("a chain's links wait for the link before them only: give no after")
        out.append(dataclasses.replace(spec, after=(out[-1],), takes_result=True))
    return await app.enqueue_many(out)
