"""Finding the user's App from ``module:attribute`` and opening stores for admin commands."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import re
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

from rota._app import App
from rota._errors import ConfigError, RotaError

log = logging.getLogger("rota.cli")
T = TypeVar("T")
Command = Callable[[argparse.Namespace], Coroutine[Any, Any, int]]

_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$", re.ASCII)


def load_app(target: str) -> App:
    """Import ``package.module:attribute`` (attribute defaults to ``app``) and return the App."""
    module_name, _, attr = target.partition(":")
    attr = attr or "app"
    if not _DOTTED.match(module_name) or not attr.isidentifier():
        raise ConfigError(f"expected MODULE:APP such as myproj.tasks:app, got {target!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import {module_name!r}: {exc}") from exc
    except RotaError:
        raise  # the module's own App refused its settings: that message says it best
    except Exception as exc:  # the user's module failed while importing
        raise ConfigError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    app = getattr(module, attr, None)
    if not isinstance(app, App):
        raise ConfigError(f"{module_name}:{attr} is not a rota.App (found {type(app).__name__})")
    return app


def add_app_options(parser: argparse.ArgumentParser, *, required: bool = False) -> None:
    if required:
        parser.add_argument("app", metavar="MODULE:APP", help="the rota.App to use, e.g. myproj.tasks:app")
    else:
        parser.add_argument("--app", metavar="MODULE:APP", help="the rota.App whose store to use")
    parser.add_argument(
        "--store", metavar="URL", help="store URL (default: the app's, ROTA_STORE_URL or sqlite)"
    )


def app_from_args(args: argparse.Namespace) -> App:
    target = getattr(args, "app", None)
    if target:
        app = load_app(target)
        if args.store:
            # the loaded app itself, not a copy: its declared schedules, listeners and the task
            # handles its handlers enqueue with all go to this store
            app.use_store(args.store)
        return app
    return App(args.store)


async def on_app(args: argparse.Namespace, action: Callable[[App], Awaitable[T]]) -> T:
    """Run ``action`` on the app the arguments name, then close its store."""
    app = app_from_args(args)
    try:
        return await action(app)
    finally:
        await app.close()


def add_listing(actions: Any, what: str, handler: Command) -> argparse.ArgumentParser:
    """``ACTION list [--json]``, with the app options."""
    listing: argparse.ArgumentParser = actions.add_parser("list", help=f"list {what}")
    add_app_options(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(run=handler)
    return listing


def add_actions_on_one(actions: Any, argument: str, commands: Iterable[tuple[str, Command, str]]) -> None:
    """One subcommand per ``(name, handler, help)``, each taking ``argument`` (a job or
    schedule id) and the app options; ``show`` also takes ``--json``."""
    for name, handler, text in commands:
        sub = actions.add_parser(name, help=text)
        add_app_options(sub)
        sub.add_argument(argument)
        if name == "show":
            sub.add_argument("--json", action="store_true", help="print JSON")
        sub.set_defaults(run=handler)


async def close_app(app: App, timeout: float = 10.0) -> None:
    """Close the store, but never let a stuck connection keep a stopping process alive: the
    jobs are already released or finished by then, so nothing is lost by giving up."""
    try:
        async with asyncio.timeout(timeout):
            await app.close()
    except TimeoutError:
        log.warning("closing the store took over %gs; exiting anyway", timeout)
