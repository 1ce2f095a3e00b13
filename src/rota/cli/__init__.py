"""The ``rota`` command. Every failure a user can cause ends in one line and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from rota._errors import RotaError
from rota.cli import demo, enqueue, jobs, worker

EXIT_USAGE = 2
EXIT_ERROR = 1

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rota", description="rota: a distributed job scheduler")
    parser.add_argument("-v", "--verbose", action="store_true", help="log what rota does")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (worker, enqueue, jobs, demo):
        module.register(commands)
    for extra in _extra_modules():
        extra.register(commands)
    return parser


def _extra_modules() -> list[Any]:
    """Command groups of later features, registered when present."""
    import importlib

    found = []
    for name in ("schedules", "status", "db"):
        try:
            found.append(importlib.import_module(f"rota.cli.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"rota.cli.{name}":
                raise
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    run: Command = args.run
    try:
        code = asyncio.run(run(args))
    except RotaError as exc:
        print(f"rota: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("ROTA_DEBUG"):
            raise
        print(
            f"rota: unexpected error: {type(exc).__name__}: {exc} (set ROTA_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return EXIT_ERROR
    return code
