"""The gate document: what makes the limits of jobs hold across claimers on MongoDB.

A claim that takes jobs with limits must not count the running jobs of a concurrency key (or
read a rate bucket) while another claimer takes jobs of that key. Without multi-document
transactions (FerretDB 1.x has none), claims of limited jobs are serialised through one
versioned document, ``_id: "gate"`` in ``<prefix>_limits``: a claim reads it, decides, and
wins its compare-and-set (see _versioned.py) *before* it writes any job; a claim that lost
reads it again and decides again. The document holds:

* ``tats``: ``[{k: rate key, t: tat}, ...]``, the token buckets (GCRA, see
  rota/stores/_gate.py); a full bucket (``tat`` past) is dropped at the next write.
* ``flight``: ``[{j: job id, t: token, k: concurrency key, u: lease expiry}, ...]``, the claims of jobs
  with a concurrency key that won the gate but may not have written their job yet. A later
  claim counts each as running until its job shows that token (then the running jobs count
  it) or its lease expiry passes (its claimer is gone, or lost the job to a cancel): a claim
  can never be missed between winning the gate and writing the job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from rota.stores._gate import Gate, to_us
from rota.stores.mongodb._codec import Doc, as_utc
from rota.stores.mongodb._versioned import Versioned

GATE_ID = "gate"
_RUNNING = "running"


@dataclass
class GateState:
    """The gate document as read, and what the next write keeps of it."""

    doc: Doc
    tats: dict[str, int]
    flight: list[Doc]  # still in flight: {j: job id, t: token, k: key, u: lease expiry}
    in_flight: dict[str, int] = field(default_factory=dict)  # concurrency key -> claims in flight


class GateDoc:
    """Reads and writes the gate document of ``limits`` (the jobs are in ``jobs``)."""

    def __init__(
        self, limits: AsyncCollection[Doc], marks: AsyncCollection[Doc], jobs: AsyncCollection[Doc]
    ) -> None:
        self.limits = limits
        self.jobs = jobs
        self.cas = Versioned(limits, marks)

    async def read(self, now: datetime) -> GateState:
        """The gate as it is now, with the claims still in flight looked up."""
        doc = await self.limits.find_one({"_id": GATE_ID})
        if doc is None:
            with contextlib.suppress(DuplicateKeyError):  # another claimer made it first
                await self.limits.insert_one(
                    {"_id": GATE_ID, "inc": GATE_ID, "ver": 1, "tats": [], "flight": []}
                )
            doc = await self.limits.find_one({"_id": GATE_ID})
            assert doc is not None
        now_us = to_us(now)
        tats = {str(b["k"]): int(b["t"]) for b in doc.get("tats", []) if int(b["t"]) > now_us}
        live = [f for f in doc.get("flight", []) if as_utc(f["u"]) > now]
        found = await asyncio.gather(
            *(self.jobs.find_one({"_id": f["j"]}, {"status": 1, "token": 1}) for f in live)
        )
        state = GateState(doc, tats, [])
        for f, job in zip(live, found, strict=True):
            if job is None or (job.get("status") == _RUNNING and job.get("token") == f["t"]):
                continue  # gone, or written: the running jobs count it
            if isinstance(job.get("token"), int) and job["token"] < f["t"]:
                state.flight.append(f)  # its claim has not written the job yet
                state.in_flight[f["k"]] = state.in_flight.get(f["k"], 0) + 1
        return state

    async def gate(self, state: GateState, keys: Iterable[str], now: datetime) -> Gate:
        """A ``Gate`` over this state for jobs with these concurrency ``keys``: their running
        jobs (unexpired leases) counted now, after the gate document was read (so that a claim
        seen in flight that wrote its job since is counted twice rather than not at all), plus
        the claims in flight."""
        wanted = list(dict.fromkeys(keys))
        counts = await asyncio.gather(
            *(
                self.jobs.count_documents(
                    {"concurrency_key": k, "status": _RUNNING, "lease_expires_at": {"$gt": now}}
                )
                for k in wanted
            )
        )
        running = dict(zip(wanted, counts, strict=True))
        return Gate(to_us(now), lambda k: running.get(k, 0) + state.in_flight.get(k, 0), state.tats.get)

    async def write(
        self,
        state: GateState,
        gate: Gate,
        taken: Iterable[tuple[str, int, str | None, datetime]],
        now: datetime,
    ) -> bool:
        """Win the gate for a claim that takes ``taken`` (job id, new token, concurrency key,
        lease expiry): records the buckets it took tokens from and its claims in flight.
        False when another claim changed the gate since ``read``."""
        tats = {**state.tats, **gate.changed()}
        flight = state.flight + [
            {"j": j, "t": t, "k": k, "u": until} for j, t, k, until in taken if k is not None
        ]
        new = {**state.doc, "tats": [{"k": k, "t": t} for k, t in tats.items()], "flight": flight}
        (won,) = await self.cas.apply([(state.doc, new)], now)
        return won

    async def buckets(self) -> dict[str, int]:
        """The rate buckets as stored (next_due reads them without a claim)."""
        doc = await self.limits.find_one({"_id": GATE_ID}, {"tats": 1})
        return {} if doc is None else {str(b["k"]): int(b["t"]) for b in doc.get("tats", [])}
