"""Which event loop rota's own processes run on: uvloop where it is installed (it is a
dependency on CPython outside Windows), asyncio's otherwise.

uvloop makes each socket round trip and each loop iteration cheaper; a worker pays both once
per job (its store's calls, and whatever network call the handler makes), so it is the
single largest gain for a worker at its defaults. ``ROTA_EVENT_LOOP`` (or the CLI's
``--event-loop``) chooses: ``auto`` (the default), ``uvloop`` (an error if it is missing) or
``asyncio``. Only processes rota starts use it: the CLI, ``SyncApp``'s portal and the Django
command; an application's own ``asyncio.run`` stays the application's choice.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from rota._errors import ConfigError

T = TypeVar("T")

EVENT_LOOPS = ("auto", "uvloop", "asyncio")
ENV = "ROTA_EVENT_LOOP"

LoopFactory = Callable[[], asyncio.AbstractEventLoop]


def choice(explicit: str | None = None) -> str:
    """The requested loop: ``explicit``, else ``ROTA_EVENT_LOOP``, else ``auto`` (an empty
    value counts as unset); anything else is a ``ConfigError`` naming where it came from."""
    source, value = ("--event-loop", explicit) if explicit else (ENV, os.environ.get(ENV, ""))
    value = value.strip().lower() or "auto"
    if value not in EVENT_LOOPS:
        raise ConfigError(f"{source}={value!r} is not one of {', '.join(EVENT_LOOPS)}")
    return value


def loop_factory(explicit: str | None = None) -> LoopFactory | None:
    """The factory of the chosen loop (None: asyncio's default)."""
    wanted = choice(explicit)
    if wanted == "asyncio":
        return None
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        if wanted == "uvloop":
            raise ConfigError(
                "the uvloop event loop was asked for but uvloop is not installed (pip install uvloop)"
            ) from None
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio`` (what a worker's start line says it runs on)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def new_event_loop(explicit: str | None = None) -> asyncio.AbstractEventLoop:
    factory = loop_factory(explicit)
    return asyncio.new_event_loop() if factory is None else factory()


def run(main: Coroutine[Any, Any, T], *, loop: str | None = None) -> T:
    """``asyncio.run(main)`` on the chosen loop."""
    try:
        factory = loop_factory(loop)
    except BaseException:
        main.close()  # never awaited: no "coroutine was never awaited" warning
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
