"""``rota dashboard``: serve the web dashboard and its JSON API with uvicorn (the ``web``
extra). It listens on loopback unless told otherwise, and refuses any other address without
authentication (``ROTA_DASHBOARD_TOKEN``, or ``ROTA_DASHBOARD_USER`` and
``ROTA_DASHBOARD_PASSWORD``)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import signal
import socket
from collections.abc import Iterator
from typing import Any

from rota._errors import ConfigError
from rota.cli._load import app_from_args, close_app


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "dashboard", help="serve the web dashboard and its JSON API"
    )
    parser.add_argument("app", nargs="?", metavar="MODULE:APP", help="the rota.App whose store to show")
    parser.add_argument("--store", metavar="URL", help="store URL (without an app, or instead of its store)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0: any free port)")
    parser.add_argument("--read-only", action="store_true", help="show everything, allow no action")
    parser.set_defaults(run=run)


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from rota.web import Auth, dashboard_app
    except ModuleNotFoundError as exc:
        raise ConfigError(f"the dashboard needs the web extra: pip install 'rota[web]' ({exc})") from None
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be from 0 to 65535, got {args.port}")
    auth = Auth.from_env()
    if auth is None and not loopback(args.host):
        raise ConfigError(
            f"refusing to listen on {args.host} without authentication: set ROTA_DASHBOARD_TOKEN "
            "(or ROTA_DASHBOARD_USER and ROTA_DASHBOARD_PASSWORD), or listen on 127.0.0.1"
        )
    server_class = _server_class()
    sock = _bind(args.host, args.port)
    app = app_from_args(args)
    try:
        await app.open()
        web = dashboard_app(app, auth=auth, read_only=args.read_only)
        server = server_class(uvicorn.Config(web, log_level="warning", lifespan="off"))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, server.stop)
        host, port = sock.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        mode = " (read-only)" if args.read_only else ""
        print(f"rota dashboard{mode}: http://{shown}:{port}/  (store {app.store.describe()})", flush=True)
        await server.serve(sockets=[sock])
    finally:
        sock.close()
        await close_app(app)
    return 0


def _server_class() -> type[Any]:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn's server, stopped by ``stop`` (our signal handlers): its own would raise the
        signal again once stopped, ending the process by that signal instead of exit code 0."""

        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

        def stop(self) -> None:
            self.should_exit = True

    return Server


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, made here so that a taken port is one clear error."""
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.setblocking(False)
    return sock
