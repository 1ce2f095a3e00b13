"""``rota workers``: the live workers of a store (each registers itself while it runs)."""

from __future__ import annotations

import argparse
from typing import Any

from rota.cli._format import console, print_json, worker_dict, workers_table
from rota.cli._load import add_app_options, on_app


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "workers", help="the live workers: host, pid, queues, jobs running, last heartbeat"
    )
    add_app_options(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    workers = await on_app(args, lambda app: app.workers())
    if args.json:
        print_json([worker_dict(w) for w in workers])
    else:
        console().print(workers_table(workers))
    return 0
