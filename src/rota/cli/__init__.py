"""The ``rota`` command. Every failure a user can cause ends in one line on stderr and exit
code 1 (a bad flag too); passwords in URLs never reach the terminal."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, NoReturn

from rota import _loop
from rota._errors import RotaError
from rota.cli import demo, enqueue, jobs, worker
from rota.logs import FORMATS
from rota.logs import configure as configure_logging
from rota.logs import lighten as lighten_logging
from rota.stores.url import scrub

EXIT_USAGE = 1  # a bad flag is bad input like any other: one line, exit 1
EXIT_ERROR = 1

LOG_LEVELS = ("debug", "info", "warning", "error", "critical")

Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]


class UsageError(Exception):
    """argparse refused the command line (raised instead of printing usage and exiting)."""

    def __init__(self, message: str, prog: str) -> None:
        super().__init__(message)
        self.prog = prog


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message, self.prog)


def build_parser() -> argparse.ArgumentParser:
    from rota import __version__

    parser = _Parser(prog="rota", description="rota: a distributed job scheduler")
    parser.add_argument("--version", action="version", version=f"rota {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for module in (worker, enqueue, jobs, demo):
        module.register(commands)
    for extra in _extra_modules():
        extra.register(commands)
    for each in _all_parsers(parser):
        _add_common_options(each, top=each is parser)
    return parser


def _add_common_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """``-v``/``--log-level``/``--log-format``/``--event-loop`` on the top parser and on every subcommand, so
    they work before or after it; a subcommand's value wins (SUPPRESS: an absent flag leaves
    the other's)."""
    default: Any = 0 if top else argparse.SUPPRESS
    parser.add_argument(
        "-v", "--verbose", action="count", default=default, help="log what rota does (-vv: debug)"
    )
    parser.add_argument(
        "--log-level",
        type=str.lower,
        choices=LOG_LEVELS,
        default=None if top else argparse.SUPPRESS,
        help="log level (overrides -v; default warning)",
    )
    parser.add_argument(
        "--log-format",
        type=str.lower,
        choices=FORMATS,
        default=None if top else argparse.SUPPRESS,
        help="log lines as text (default) or as JSON objects, one per line",
    )
    parser.add_argument(
        "--event-loop",
        type=str.lower,
        choices=_loop.EVENT_LOOPS,
        default=None if top else argparse.SUPPRESS,
        help=f"the event loop to run on (default: ${_loop.ENV}, else auto: uvloop when installed)",
    )


def _all_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    found = [parser]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in dict.fromkeys(action.choices.values()):
                found += _all_parsers(sub)
    return found


def _extra_modules() -> list[Any]:
    """Command groups of later features, registered when present."""
    import importlib

    found = []
    for name in ("schedules", "status", "db", "workers", "dashboard"):
        try:
            found.append(importlib.import_module(f"rota.cli.{name}"))
        except ModuleNotFoundError as exc:
            if exc.name != f"rota.cli.{name}":
                raise
    return found


def log_level(args: argparse.Namespace) -> int:
    if args.log_level:
        return int(getattr(logging, args.log_level.upper()))
    verbose = args.verbose or 0
    return logging.DEBUG if verbose >= 2 else logging.INFO if verbose == 1 else logging.WARNING


def fail(message: str) -> int:
    """Print one line on stderr (URLs redacted) and return the error exit code."""
    line = " ".join(scrub(message).split())
    print(f"rota: error: {line}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        return fail(f"{exc} (see {exc.prog} --help)")
    if argv is None:  # the process is the command's own (tests and hosts pass argv)
        lighten_logging()
    configure_logging(log_level(args), args.log_format or "text")
    run: Command = args.run
    try:
        code = _loop.run(run(args), loop=args.event_loop)
    except RotaError as exc:
        return fail(str(exc))
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("ROTA_DEBUG"):
            raise
        return fail(f"unexpected error: {type(exc).__name__}: {exc} (set ROTA_DEBUG=1 for a traceback)")
    return code
