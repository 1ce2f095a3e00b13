"""Schedule and named-lease methods of the Redis store.

Keys: ``N:sch:<id>`` schedule hash, ``N:schs`` every schedule id, ``N:sdue`` unpaused
schedules by next fire (or lease expiry when later), ``N:sfence`` schedules leased under a
leader's term by its token, ``N:lease:<name>`` named lease hash whose token counter outlives
every holder.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota._errors import ConfigError, ScheduleNotFound
from rota._models import Fence, FireCommit, Lease, Schedule
from rota.stores.redis._codec import (
    decode_schedule,
    decode_schedules,
    from_ms,
    job_args,
    schedule_definition,
    schedule_state,
    to_ms,
)
from rota.stores.redis._scripts import EncodedArg, mapped_errors

_ACQUIRE_SCAN = 1000  # due schedules looked at per acquire, sorted by next fire


def _ms(delta: timedelta) -> int:
    return delta // timedelta(milliseconds=1)


class SchedulesMixin:
    _client: Any
    _ns: str

    if TYPE_CHECKING:

        async def _run(self, name: str, *args: EncodedArg) -> Any: ...

        def notify_schedules(self) -> None: ...

        def notify_jobs(self) -> None: ...

    # -- schedules -----------------------------------------------------------------------

    async def put_schedule(self, schedule: Schedule, *, now: datetime) -> Schedule:
        if schedule.created_at is None:
            schedule = schedule.replace(created_at=now)
        definition = schedule_definition(schedule)
        state = schedule_state(schedule)
        nf = "" if schedule.next_fire_at is None else to_ms(schedule.next_fire_at)
        changed, flat = await self._run(
            "put_schedule", to_ms(now), schedule.id, nf,
            len(definition) // 2, *definition, len(state) // 2, *state,
        )  # fmt: skip
        if changed:
            self.notify_schedules()
        return decode_schedule(schedule.id, flat)

    async def get_schedule(self, schedule_id: str) -> Schedule | None:
        async with mapped_errors("get_schedule"):
            raw = await self._client.hgetall(f"{self._ns}:sch:{schedule_id}")
        if not raw:
            return None
        return decode_schedule(schedule_id, [x for kv in raw.items() for x in kv])

    async def list_schedules(self) -> list[Schedule]:
        return decode_schedules(await self._run("list_schedules"))

    async def remove_schedule(self, schedule_id: str) -> bool:
        existed = await self._run("remove_schedule", schedule_id)
        if existed:
            self.notify_schedules()
        return bool(existed)

    async def set_schedule_paused(
        self, schedule_id: str, paused: bool, *, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        nf = "" if next_fire_at is None else to_ms(next_fire_at)
        reply = await self._run("pause_schedule", to_ms(now), schedule_id, "1" if paused else "0", nf)
        if reply[0] == b"missing":
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        self.notify_schedules()
        return decode_schedule(schedule_id, reply[1])

    async def acquire_schedules(
        self,
        *,
        owner: str,
        limit: int,
        lease_for: timedelta,
        now: datetime,
        fence: Fence | None = None,
    ) -> list[Schedule]:
        if limit <= 0:
            return []
        if lease_for <= timedelta(0):
            raise ConfigError(f"lease_for must be positive, got {lease_for}")
        at = to_ms(now)
        rows = await self._run(
            "acquire_schedules", at, at + _ms(lease_for), owner, limit, max(limit, _ACQUIRE_SCAN),
            *((fence.name, fence.owner, fence.token) if fence is not None else ("", "", "")),
        )  # fmt: skip
        return decode_schedules(rows)

    async def commit_fires(self, commit: FireCommit, *, now: datetime) -> bool:
        fence = commit.fence
        args: list[EncodedArg] = [
            to_ms(now),
            commit.schedule_id,
            commit.version,
            commit.owner,
            "" if commit.next_fire_at is None else to_ms(commit.next_fire_at),
            "" if commit.last_fire_at is None else to_ms(commit.last_fire_at),
            "" if fence is None else fence.name,
            "" if fence is None else fence.owner,
            "" if fence is None else fence.token,
            len(commit.jobs),
        ]
        for job in commit.jobs:
            args += job_args(job)
        applied, created = await self._run("commit_fires", *args)
        if created:
            self.notify_jobs()
        if applied:
            self.notify_schedules()
        return bool(applied)

    async def next_schedule_due(self) -> datetime | None:
        async with mapped_errors("next_schedule_due"):
            first = await self._client.zrange(f"{self._ns}:sdue", 0, 0, withscores=True)
        return from_ms(int(first[0][1])) if first else None

    # -- named leases --------------------------------------------------------------------

    async def acquire_lease(self, name: str, *, owner: str, ttl: timedelta, now: datetime) -> Lease | None:
        at = to_ms(now)
        expires = at + _ms(ttl)
        token = await self._run("acquire_lease", name, owner, at, expires)
        if token is None:
            return None
        return Lease(name, owner, int(token), from_ms(at), from_ms(expires))

    async def renew_lease(
        self, name: str, *, owner: str, token: int, ttl: timedelta, now: datetime
    ) -> Lease | None:
        at = to_ms(now)
        expires = at + _ms(ttl)
        acquired = await self._run("renew_lease", name, owner, token, at, expires)
        if acquired is None:
            return None
        return Lease(name, owner, token, from_ms(acquired), from_ms(expires))

    async def release_lease(self, name: str, *, owner: str, token: int, now: datetime) -> bool:
        return bool(await self._run("release_lease", name, owner, token, to_ms(now)))

    async def get_lease(self, name: str, *, now: datetime) -> Lease | None:
        async with mapped_errors("get_lease"):
            o, tk, a, e = await self._client.hmget(f"{self._ns}:lease:{name}", "o", "tk", "a", "e")
        if o is None or int(e) <= to_ms(now):
            return None
        return Lease(name, o.decode(), int(tk), from_ms(a), from_ms(e))
