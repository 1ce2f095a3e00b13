"""The rate and concurrency limits every store enforces in ``claim`` (see ``Store.claim``).

Concurrency: a job with ``concurrency_key`` is taken only while fewer than its
``concurrency_limit`` jobs with that key are running with an unexpired lease. Nothing is
counted: the running jobs are (a crashed worker's job stops counting when its lease expires).

Rate: one token bucket per ``rate_key``, kept as GCRA's "theoretical arrival time" (``tat``,
integer microseconds since the epoch): with ``rate_limit`` = L per ``rate_period`` = P, a
token comes every T = P / L (whole microseconds, at least one) and the bucket holds L
tokens. A claim at ``now`` may take a token when ``tat - now <= (L - 1) * T``; it then sets
``tat = max(tat, now) + T``. No record (or a ``tat`` in the past) is a full bucket, so a
store may forget a bucket once ``tat <= now``. From a full bucket L jobs start at once (the
burst), then one every T: any window of length W sees at most ``L + W / T`` starts.

The memory, SQLite and MongoDB stores decide with ``Gate`` below; the Redis script
(``claim.lua``) and the PostgreSQL function (``claim_limited``) do the same arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from rota._models import Job

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_us(when: datetime) -> int:
    return (when - _EPOCH) // _US


def from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def period_us(period: float) -> int:
    return round(period * 1_000_000)


def interval(limit: int, period: float) -> int:
    """T: microseconds between two tokens."""
    return max(1, period_us(period) // limit)


def take(tat: int | None, now: int, limit: int, period: float) -> int | None:
    """The bucket's new ``tat`` after taking a token at ``now``, or None when it has none."""
    t = interval(limit, period)
    start = now if tat is None or tat < now else tat
    if start - now > (limit - 1) * t:
        return None
    return start + t


def opens_at(tat: int | None, limit: int, period: float) -> int | None:
    """When the bucket next has a token (None: it has one whenever ``tat`` is in the past)."""
    if tat is None:
        return None
    return tat - (limit - 1) * interval(limit, period)


def _limit(value: object) -> int | None:
    """A stored limit as a count, or None when it is not one a claim can use (a row no
    version of rota writes: such a job is claimed as if it had no such limit)."""
    return value if type(value) is int and value >= 1 else None


def _period(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    return None


class Gate:
    """Decides, during one claim at ``now`` (microseconds), which limited jobs may be taken.

    ``running(key)``: the jobs with that concurrency key running with an unexpired lease
    (asked once per key per claim); ``bucket(key)``: the stored ``tat`` of a rate key, or None.
    ``admit`` counts each admitted job against its keys; ``changed()`` gives the buckets to
    write back. A key found full (or empty) holds back its other jobs with the same limits
    for the rest of the claim without another look.
    """

    __slots__ = ("_bucket", "_empty", "_full", "_loaded", "_running", "counts", "now", "tats")

    def __init__(self, now: int, running: Callable[[str], int], bucket: Callable[[str], int | None]) -> None:
        self.now = now
        self._running = running
        self._bucket = bucket
        self.counts: dict[str, int] = {}
        self.tats: dict[str, int | None] = {}
        self._loaded: dict[str, int | None] = {}
        self._full: set[tuple[object, ...]] = set()
        self._empty: set[tuple[object, ...]] = set()

    def changed(self) -> dict[str, int]:
        """The rate keys whose bucket this claim took tokens from, with their new ``tat``."""
        return {k: v for k, v in self.tats.items() if v is not None and v != self._loaded.get(k)}

    def admit(self, job: Job) -> bool:
        """Whether ``job`` may be taken now; if so, it is counted."""
        return self.admit_limits(
            job.concurrency_key, job.concurrency_limit, job.rate_key, job.rate_limit, job.rate_period
        )

    def admit_limits(
        self, ckey: str | None, climit: object, rkey: str | None, rlimit: object, rperiod: object
    ) -> bool:
        """``admit`` for a job with these limit fields (as stored)."""
        if (ckey, climit) in self._full or (rkey, rlimit, rperiod) in self._empty:
            return False  # held back already in this claim, and nothing changed since
        limit = _limit(climit)
        n = 0
        if ckey is not None and limit is not None:
            found = self.counts.get(ckey)
            n = found if found is not None else self._running(ckey)
            if n >= limit:
                self._full.add((ckey, climit))
                return False
        rate, period = _limit(rlimit), _period(rperiod)
        if rkey is not None and rate is not None and period is not None:
            if rkey in self.tats:
                old = self.tats[rkey]
            else:
                old = self.tats[rkey] = self._loaded[rkey] = self._bucket(rkey)
            tat = take(old, self.now, rate, period)
            if tat is None:
                self._empty.add((rkey, rlimit, rperiod))
                return False
            self.tats[rkey] = tat
        if ckey is not None and limit is not None:
            self.counts[ckey] = n + 1
        return True


#: How many pending limited jobs ``next_due`` looks at, at most (in due order; past them it
#: answers with the due time of the last one looked at, which is never too late).
NEXT_DUE_SCAN = 1000


#: A pending limited job as ``limited_next_due`` reads it: due_at, concurrency key and limit,
#: rate key, limit and period.
Pending = tuple[datetime, str | None, object, str | None, object, object]


def pending_of(job: Job) -> Pending:
    assert job.due_at is not None
    return (
        job.due_at,
        job.concurrency_key,
        job.concurrency_limit,
        job.rate_key,
        job.rate_limit,
        job.rate_period,
    )


def limited_next_due(
    jobs: Iterable[Pending],
    running: Callable[[str], tuple[int, datetime | None]],
    bucket: Callable[[str], int | None],
    *,
    cut: bool,
) -> datetime | None:
    """The earliest time a claim may take one of ``jobs`` (pending limited jobs in due
    order; ``cut``: there are more after them), as far as their limits tell: a job whose
    concurrency key has at least its limit of jobs running counts from the earliest lease
    expiry among them (a slot also frees when one of them ends, which wakes waiters); one with
    a rate limit no earlier than its bucket has a token. ``running(key)`` is (running jobs,
    earliest lease expiry) with any lease; ``bucket(key)`` the stored ``tat``."""
    best: datetime | None = None
    seen: dict[tuple[object, ...], None] = {}
    last: datetime | None = None
    for due, ckey, climit, rkey, rlimit, rperiod in jobs:
        last = due
        if best is not None and due >= best:
            return best  # due order: no later job can be earlier
        group = (ckey, climit, rkey, rlimit, rperiod)
        if group in seen:
            continue  # the same limits: no earlier than the first job of the group
        seen[group] = None
        when: datetime | None = due
        limit = _limit(climit)
        if ckey is not None and limit is not None:
            n, first_expiry = running(ckey)
            if n >= limit:
                when = None if first_expiry is None else max(due, first_expiry)
        rate, period = _limit(rlimit), _period(rperiod)
        if when is not None and rkey is not None and rate is not None and period is not None:
            opens = opens_at(bucket(rkey), rate, period)
            if opens is not None and opens > to_us(when):
                when = from_us(opens)
        if when is not None and (best is None or when < best):
            best = when
    if cut and last is not None and (best is None or last < best):
        return last  # a job not looked at may be claimable from its due time on
    return best
