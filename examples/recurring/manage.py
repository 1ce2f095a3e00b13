"""Steer the schedules of jobs.py: list, pause, resume, remove, add one-time ones.

    python manage.py list
    python manage.py pause sync-inventory
    python manage.py resume sync-inventory
    python manage.py once 10 "we launch in ten seconds"   # a one-time schedule named "launch"
    python manage.py remove launch
    python manage.py rebuild                             # queue a rebuild_inventory job now

``rota schedules list|show|pause|resume|remove|trigger-now --app jobs:app`` does the same from
the shell; this script shows the API behind it.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import timedelta

import rota

from jobs import Announcement, announce, app, rebuild_inventory


def show(info: rota.ScheduleInfo) -> None:
    when = "-"
    if info.next_fire_at is not None and not info.paused:
        when = info.next_fire_at.astimezone(info.zone).strftime("%H:%M:%S %Z")
    state = "paused" if info.paused else "active"
    error = f"  last error: {info.last_error}" if info.last_error else ""
    print(
        f"{info.id:<15} {info.trigger.describe():<32} {state:<6}  next {when:<14}"
        f" runs {info.run_count}, failed {info.fail_count}{error}"
    )


async def main(args: argparse.Namespace) -> None:
    async with app:
        if args.command == "list":
            for info in await app.schedules.list():
                show(info)
        elif args.command == "pause":
            show(await app.schedules.pause(args.id))
        elif args.command == "resume":
            show(await app.schedules.resume(args.id))
        elif args.command == "remove":
            removed = await app.schedules.remove(args.id)
            print(f"removed {args.id}" if removed else f"no schedule {args.id}")
        elif args.command == "once":
            when = app.clock.now() + timedelta(seconds=args.seconds)
            info = await app.schedules.add(
                "launch", task=announce, trigger=rota.At(when), payload=Announcement(args.text)
            )
            show(info)
        elif args.command == "rebuild":
            job = await rebuild_inventory.enqueue()
            print(f"queued {job.id}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="steer the schedules of jobs.py")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list")
    for name in ("pause", "resume", "remove"):
        commands.add_parser(name).add_argument("id")
    once = commands.add_parser("once")
    once.add_argument("seconds", type=float)
    once.add_argument("text")
    commands.add_parser("rebuild")
    try:
        asyncio.run(main(parser.parse_args()))
    except rota.RotaError as exc:  # e.g. ScheduleNotFound: one line, no traceback
        raise SystemExit(f"error: {exc}") from None
