"""Dependencies between jobs: what a store decides when a job with parents is added and
when a parent ends (see ``Store.add`` and docs/workflows.md). Pure: the memory, SQLite,
PostgreSQL and MongoDB stores apply these decisions inside their own atomic steps; the Redis
scripts (``_lib.lua``, ``settle_dependants``) and the PostgreSQL trigger (migration 0008)
restate them.

A child records its parents (``Job.parents``) and counts those that have not ended
(``parents_left``); the store also keeps, per parent, the children still waiting for it (an
edge each), so that a parent's end finds its children without a scan, and deletes those
edges in the same step: each edge settles once, however often the parent ends (a requeued
parent that ends again finds none).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from rota._errors import JobNotFound
from rota._models import FINAL_STATUSES, Job, JobStatus

#: The payload a chained job receives from a parent that returned nothing.
NULL = b"null"


def parent_error(parent_id: str, status: str) -> str:
    """The ``last_error`` of a job cancelled because a parent failed or was cancelled."""
    return f"DependencyFailed: parent job {parent_id} {status}"


@dataclass(frozen=True, slots=True)
class ParentState:
    """What the add of a child needs to know of one parent."""

    status: JobStatus
    result: bytes | None


def link(job: Job, parents: Mapping[str, ParentState], now: datetime) -> Job:
    """``job`` (with parents) as stored by ``add``: ``waiting`` on the parents that have not
    ended, ``pending`` when none is left (a chained job then carries its parent's result as
    payload), ``cancelled`` (finished now, with the reason) when a parent failed or was
    cancelled and the job does not run after failure. ``JobNotFound`` for a parent that is
    in neither the store nor the earlier jobs of the batch."""
    left = 0
    payload = job.payload
    for parent_id in job.parents or ():
        state = parents.get(parent_id)
        if state is None:
            raise JobNotFound(f"job {job.id} waits for job {parent_id}, which does not exist")
        if state.status is JobStatus.SUCCEEDED:
            if job.takes_result:
                payload = state.result if state.result is not None else NULL
        elif state.status in FINAL_STATUSES:
            if not job.run_after_failure:
                return job.replace(
                    status=JobStatus.CANCELLED,
                    parents_left=0,
                    dependants=0,
                    finished_at=now,
                    last_error=parent_error(parent_id, state.status.value),
                )
        else:
            left += 1
    status = JobStatus.WAITING if left else JobStatus.PENDING
    return job.replace(status=status, parents_left=left, dependants=0, payload=payload)


@dataclass(slots=True)
class Linked:
    """A batch as ``add`` stores it: ``jobs`` in input order (a job whose key is taken is
    left as given: the store answers it with the key's holder), the ``edges`` (parent id,
    child id) of the created jobs still waiting for a parent, and how much each parent's
    ``dependants`` grows."""

    jobs: list[Job]
    edges: list[tuple[str, str]] = field(default_factory=list)
    dependants: Counter[str] = field(default_factory=Counter)


def link_batch(
    jobs: Sequence[Job],
    now: datetime,
    holders: Mapping[str, Job],
    parents: Mapping[str, ParentState],
    stored: Mapping[str, Job] | None = None,
) -> Linked:
    """``link`` for each job of an ``add`` that has parents, decided before anything is
    written. ``holders``: the stored jobs holding the batch's dedupe keys (by key);
    ``parents``: the stored parents (by id; the holders count as stored too); ``stored``:
    the jobs of the batch whose id is already stored (by id): ``add`` answers them with the
    stored job, so they are neither linked nor counted (a taken id wins over a taken key).
    A parent id of the batch is the job it will be, or the holder of its taken key."""
    known: dict[str, Job] = {}  # id in the call -> the job it stands for
    keys: dict[str, Job] = {}
    out = Linked([])
    for given in jobs:
        job, key = given, given.key
        same = None if stored is None else stored.get(job.id)
        if same is not None:
            known[job.id] = same
            out.jobs.append(job)
            continue
        holder = None if key is None else (holders.get(key) or keys.get(key))
        if holder is not None:
            known[job.id] = holder
            out.jobs.append(job)
            continue
        if job.parents is not None:
            ids = tuple(known[p].id if p in known else p for p in job.parents)
            states: dict[str, ParentState] = {}
            for parent_id in ids:
                local = known.get(parent_id)
                if local is None:
                    local = next((h for h in holders.values() if h.id == parent_id), None)
                if local is None and stored is not None:
                    local = stored.get(parent_id)
                if local is not None:
                    states[parent_id] = ParentState(local.status, local.result)
                elif parent_id in parents:
                    states[parent_id] = parents[parent_id]
            job = link(job.replace(parents=ids), states, now)
            out.dependants.update(ids)
            if job.status is JobStatus.WAITING:
                out.edges += [(p, job.id) for p in ids if states[p].status not in FINAL_STATUSES]
        known[job.id] = job
        if key is not None:
            keys[key] = job
        out.jobs.append(job)
    return out


def settle(
    child: Job, parent_id: str, status: JobStatus, result: bytes | None, now: datetime
) -> dict[str, object] | None:
    """The changes to a ``waiting`` child when its parent ends with ``status`` (None: the
    child is no longer waiting, so nothing changes). Success (or any end, for a child that
    runs after failure) counts the parent off and releases the child at the last one; a
    failure or cancellation cancels the child, whose own dependants are then settled as
    cancelled in the same step (the caller's loop)."""
    if child.status is not JobStatus.WAITING:
        return None
    if status is JobStatus.SUCCEEDED or child.run_after_failure:
        left = max(0, child.parents_left - 1)
        changes: dict[str, object] = {"parents_left": left}
        if child.takes_result and status is JobStatus.SUCCEEDED:
            changes["payload"] = result if result is not None else NULL
        if left == 0:
            changes["status"] = JobStatus.PENDING
        return changes
    return {
        "status": JobStatus.CANCELLED,
        "finished_at": now,
        "last_error": parent_error(parent_id, status.value),
    }


def cascade(
    parent: tuple[str, JobStatus, bytes | None],
    children_of: Callable[[str], list[str]],
    load: Callable[[str], Job | None],
    save: Callable[[Job, dict[str, object]], None],
    now: datetime,
) -> None:
    """Settle every dependant of ``parent`` (id, final status, result: it has just ended),
    transitively: children
    cancelled by it settle their own. ``children_of`` returns (and forgets) a job's edges,
    ``load`` reads a job, ``save`` writes the changes to one."""
    todo = [parent]
    while todo:
        parent_id, status, result = todo.pop()
        for child_id in children_of(parent_id):
            child = load(child_id)
            if child is None:
                continue
            changes = settle(child, parent_id, status, result, now)
            if changes is None:
                continue
            save(child, changes)
            if changes.get("status") is JobStatus.CANCELLED:
                todo.append((child_id, JobStatus.CANCELLED, None))
