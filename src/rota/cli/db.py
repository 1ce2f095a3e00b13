"""``rota db migrate``: bring the store's schema up to date."""

from __future__ import annotations

import argparse
from typing import Any

from rota.cli._load import add_app_options, app_from_args


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("db", help="store schema")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    migrate = actions.add_parser("migrate", help="apply pending schema migrations")
    add_app_options(migrate)
    migrate.set_defaults(run=run_migrate)


async def run_migrate(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    store = app.store
    try:
        applied = await store.migrate()
        await app.open()
    finally:
        await app.close()
    done = f"applied {', '.join(map(str, applied))}" if applied else "schema up to date"
    print(f"{store.describe()}: {done}")
    return 0
