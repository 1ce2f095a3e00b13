"""``rota schedules list|show|pause|resume|remove|trigger-now`` and ``rota scheduler``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from datetime import datetime
from typing import Any

from rota._schedules import ScheduleInfo
from rota.cli._format import console, iso, json_value, plain, print_json
from rota.cli._load import add_actions_on_one, add_app_options, add_listing, app_from_args, on_app
from rota.runtime.services import LeaderServices


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("schedules", help="inspect and steer schedules")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add_listing(actions, "schedules with their next fire times", list_schedules)
    add_actions_on_one(actions, "schedule_id", (
        ("show", show, "show one schedule"),
        ("pause", pause, "stop firing until resumed"),
        ("resume", resume, "fire again from the next fire after now"),
        ("remove", remove, "delete a schedule (its jobs stay)"),
        ("trigger-now", trigger_now, "queue one job for the schedule now"),
    ))  # fmt: skip

    runner: argparse.ArgumentParser = commands.add_parser("scheduler", help="run only the scheduler loop")
    add_app_options(runner, required=True)
    runner.add_argument("--prune", action="store_true", help="remove schedules no longer declared in code")
    runner.add_argument(
        "--schedule-lease", type=float, metavar="S",
        help="seconds a pass holds its schedules (default: the election ttl)",
    )  # fmt: skip
    runner.set_defaults(run=run_scheduler)


def local(dt: datetime | None, info: ScheduleInfo) -> str:
    """A fire time in the schedule's own zone (cron) or UTC."""
    if dt is None:
        return "-"
    zone = info.zone
    shown = dt.astimezone(zone) if zone is not None else dt
    return shown.strftime("%Y-%m-%d %H:%M:%S %Z")


UPCOMING = 5  # fires ``schedules show`` lists


def upcoming(info: ScheduleInfo, count: int = UPCOMING) -> list[datetime]:
    """The next ``count`` fires of an active schedule: its stored next fire, then the
    trigger's fires after it (what the scheduler will fire, DST rules included)."""
    fires: list[datetime] = []
    fire = None if info.paused else info.next_fire_at
    while fire is not None and len(fires) < count:
        fires.append(fire)
        fire = info.trigger.next_fire(fire)
    return fires


async def list_schedules(args: argparse.Namespace) -> int:
    schedules = await on_app(args, lambda app: app.schedules.list())
    if args.json:
        print_json([schedule_dict(s) for s in schedules])
        return 0
    from rich.table import Table  # here: `rota worker` imports this module, never rich

    table = Table()
    for column in ("id", "task", "trigger", "next fire", "last fire", "runs", "fails", "state"):
        table.add_column(column, overflow="fold")
    for s in schedules:
        table.add_row(*plain(
            s.id, s.task, s.trigger.describe(), local(s.next_fire_at, s), local(s.last_fire_at, s),
            str(s.run_count), str(s.fail_count), "paused" if s.paused else "active",
        ))  # fmt: skip
    console().print(table)
    return 0


async def show(args: argparse.Namespace) -> int:
    s = await on_app(args, lambda app: app.schedules.get(args.schedule_id))
    if args.json:
        print_json(schedule_dict(s))
        return 0
    fields = {
        "id": s.id, "task": s.task, "trigger": s.trigger.describe(), "queue": s.queue,
        "state": "paused" if s.paused else "active", "next fire": local(s.next_fire_at, s),
        "last fire": local(s.last_fire_at, s), "runs": s.run_count, "fails": s.fail_count,
        "last error": s.last_error or "-", "misfire": s.misfire.value, "overlap": s.overlap.value,
        "declared in": "code" if s.origin == "code" else "api",
    }  # fmt: skip
    from rich.markup import escape

    out = console()
    for name, value in fields.items():
        out.print(f"[bold]{name:>11}[/bold]  {escape(str(value))}", highlight=False)
    for i, fire in enumerate(upcoming(s)):
        out.print(f"[bold]{'upcoming' if i == 0 else '':>11}[/bold]  {local(fire, s)}", highlight=False)
    return 0


def schedule_dict(s: ScheduleInfo) -> dict[str, Any]:
    """A schedule as JSON (``--json``): times in ISO 8601 UTC, the trigger as stored."""
    return {
        "id": s.id, "task": s.task, "trigger": s.trigger.describe(), "trigger_spec": json_value(
            s.record.trigger.encode()
        ), "queue": s.queue, "paused": s.paused, "next_fire_at": iso(s.next_fire_at),
        "last_fire_at": iso(s.last_fire_at), "run_count": s.run_count, "fail_count": s.fail_count,
        "last_error": s.last_error, "misfire": s.misfire.value, "overlap": s.overlap.value,
        "origin": s.origin, "priority": s.record.priority, "payload": json_value(s.record.payload),
        "upcoming": [iso(fire) for fire in upcoming(s)],
    }  # fmt: skip


def _state(info: ScheduleInfo) -> int:
    state = "paused" if info.paused else f"active, next fire {local(info.next_fire_at, info)}"
    print(f"{info.id}: {state}")
    return 0


async def pause(args: argparse.Namespace) -> int:
    return _state(await on_app(args, lambda app: app.schedules.pause(args.schedule_id)))


async def resume(args: argparse.Namespace) -> int:
    return _state(await on_app(args, lambda app: app.schedules.resume(args.schedule_id)))


async def remove(args: argparse.Namespace) -> int:
    removed = await on_app(args, lambda app: app.schedules.remove(args.schedule_id))
    if not removed:
        print(f"rota: error: no schedule with id {args.schedule_id!r}", file=sys.stderr)
        return 1
    print(f"{args.schedule_id}: removed")
    return 0


async def trigger_now(args: argparse.Namespace) -> int:
    job = await on_app(args, lambda app: app.schedules.trigger_now(args.schedule_id))
    print(job.id)
    return 0


async def run_scheduler(args: argparse.Namespace) -> int:
    """The scheduler loop alone, leader-elected like a worker's (only the leader fires)."""
    app = app_from_args(args)
    services = LeaderServices(
        app.context, scheduler=True, prune_schedules=args.prune, schedule_lease=args.schedule_lease
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, services.stop)
    try:
        await services.run()
    finally:
        await app.close()
    return 0
