"""``rota status``: the store, the current leader (from the store's lease), the queues'
depths, tasks and schedules. It describes the cluster, not this command's own process (which
runs no worker)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from rota.cli._format import console, when
from rota.cli._load import add_app_options, on_app

if TYPE_CHECKING:
    from rich.table import Table

    from rota.runtime.health import Health

#: Health fields about the reporting process itself; ``rota status`` runs no worker, so they
#: would describe the CLI, not the cluster.
_LOCAL = ("instance_id", "is_leader", "executes_jobs", "fires_schedules", "runs_worker", "runs_scheduler")


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "status", help="the leader, queue depths, tasks and schedules"
    )
    add_app_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    report = await on_app(args, lambda app: app.health())
    if args.json:
        data = {k: v for k, v in report.to_dict().items() if k not in _LOCAL}
        print(json.dumps(data, indent=2, sort_keys=True))
        return 0 if report.store_ok else 1
    leader = report.leader
    reach = "reachable" if report.store_ok else f"UNREACHABLE: {report.error or ''}"
    if not report.leader_election:
        leading = "- (no election: the store is not shared)"
    elif leader is not None:
        until = when(leader.expires_at)
        leading = f"{leader.id} since {when(leader.since)} (token {leader.token}, lease until {until})"
    else:
        leading = "none (no worker or scheduler holds the lease)"
    rows = {
        "store": f"{report.store} ({reach})",
        "election": report.election or "off",
        "leader": leading,
        "tasks": ", ".join(report.tasks) or "-",
        "schedules": ", ".join(report.schedules) or "-",
    }
    out = console()
    for name, value in rows.items():
        out.print(f"[bold]{name:>9}[/bold]  {value}", highlight=False)
    if report.store_ok:
        out.print(queues_table(report))
    return 0 if report.store_ok else 1


def queues_table(report: Health) -> Table:
    from rich.table import Table  # here: `rota worker` imports this module, never rich

    table = Table(title="queues")
    columns = ("pending", "delayed", "running", "failed", "succeeded", "cancelled")
    table.add_column("queue")
    for column in columns:
        table.add_column(column, justify="right")
    for queue, depth in report.queues.items():
        table.add_row(queue, *(str(getattr(depth, c)) for c in columns))
    if not report.queues:
        table.add_row("-", *("0" for _ in columns))
    return table
