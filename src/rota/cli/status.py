"""``rota status``: this instance's id and role, the current leader, tasks and schedules."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rota.cli._format import console, when
from rota.cli._load import add_app_options, app_from_args


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("status", help="who leads, what runs here")
    add_app_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    try:
        report = await app.health()
    finally:
        await app.close()
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        return 0 if report.store_ok else 1
    leader = report.leader
    reach = "reachable" if report.store_ok else f"UNREACHABLE: {report.error or ''}"
    rows = {
        "instance": report.instance_id,
        "store": f"{report.store} ({reach})",
        "election": report.election if report.leader_election else "off (store not shared)",
        "leader": f"{leader.id} since {when(leader.since)} (token {leader.token})" if leader else "none",
        "this instance": ("leads" if report.is_leader else "follows") if report.leader_election else "-",
        "executes jobs": "yes" if report.executes_jobs else "no",
        "fires schedules": "yes" if report.fires_schedules else "no",
        "tasks": ", ".join(report.tasks) or "-",
        "schedules": ", ".join(report.schedules) or "-",
    }
    out = console()
    for name, value in rows.items():
        out.print(f"[bold]{name:>15}[/bold]  {value}", highlight=False)
    return 0 if report.store_ok else 1
