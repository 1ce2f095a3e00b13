"""Schedules on Redis.

Keys: ``N:sch:<id>`` schedule hash, ``N:schs`` every schedule id, ``N:sdue`` unpaused
schedules by next fire (or lease expiry when later), ``N:sfence`` schedules leased under a
leader's term by its token.
"""

from __future__ import annotations

from datetime import datetime

from rota._errors import ScheduleNotFound
from rota._models import Fence, FireCommit, Schedule
from rota.stores._parts import SchedulesPart
from rota.stores.redis._codec import (
    decode_schedule,
    decode_schedules,
    from_ms,
    job_args,
    schedule_definition,
    schedule_state,
    to_ms,
)
from rota.stores.redis._connection import EncodedArg, RedisConnection

_ACQUIRE_SCAN = 1000  # due schedules looked at per acquire, sorted by next fire


def _ms_or_empty(dt: datetime | None) -> int | str:
    return "" if dt is None else to_ms(dt)


class RedisSchedules(SchedulesPart):
    def __init__(self, db: RedisConnection) -> None:
        self._db = db

    async def put(self, schedule: Schedule, now: datetime) -> tuple[Schedule, bool]:
        if schedule.created_at is None:
            schedule = schedule.replace(created_at=now)
        definition = schedule_definition(schedule)
        state = schedule_state(schedule)
        changed, flat = await self._db.run(
            "put_schedule", to_ms(now), schedule.id, _ms_or_empty(schedule.next_fire_at),
            len(definition) // 2, *definition, len(state) // 2, *state,
        )  # fmt: skip
        return decode_schedule(schedule.id, flat), bool(changed)

    async def get(self, schedule_id: str) -> Schedule | None:
        async with self._db.mapped("get_schedule"):
            raw = await self._db.client.hgetall(f"{self._db.namespace}:sch:{schedule_id}")
        if not raw:
            return None
        return decode_schedule(schedule_id, [x for kv in raw.items() for x in kv])

    async def all(self) -> list[Schedule]:
        return decode_schedules(await self._db.run("list_schedules"))

    async def remove(self, schedule_id: str) -> bool:
        return bool(await self._db.run("remove_schedule", schedule_id))

    async def set_paused(
        self, schedule_id: str, paused: bool, next_fire_at: datetime | None, now: datetime
    ) -> Schedule:
        reply = await self._db.run(
            "pause_schedule", to_ms(now), schedule_id, "1" if paused else "0", _ms_or_empty(next_fire_at)
        )
        if reply[0] == b"missing":
            raise ScheduleNotFound(f"no schedule {schedule_id!r}")
        return decode_schedule(schedule_id, reply[1])

    async def acquire(
        self, owner: str, limit: int, until: datetime, now: datetime, fence: Fence | None
    ) -> list[Schedule]:
        rows = await self._db.run(
            "acquire_schedules", to_ms(now), to_ms(until), owner, limit, max(limit, _ACQUIRE_SCAN),
            *((fence.name, fence.owner, fence.token) if fence is not None else ("", "", "")),
        )  # fmt: skip
        return decode_schedules(rows)

    async def commit(self, commit: FireCommit, now: datetime) -> tuple[bool, int]:
        fence = commit.fence
        args: list[EncodedArg] = [
            to_ms(now),
            commit.schedule_id,
            commit.version,
            commit.owner,
            _ms_or_empty(commit.next_fire_at),
            _ms_or_empty(commit.last_fire_at),
            "" if fence is None else fence.name,
            "" if fence is None else fence.owner,
            "" if fence is None else fence.token,
            len(commit.jobs),
        ]
        for job in commit.jobs:
            args += job_args(job)
        applied, created = await self._db.run("commit_fires", *args)
        return bool(applied), int(created)

    async def next_due(self) -> datetime | None:
        async with self._db.mapped("next_schedule_due"):
            first = await self._db.client.zrange(f"{self._db.namespace}:sdue", 0, 0, withscores=True)
        return from_ms(int(first[0][1])) if first else None
