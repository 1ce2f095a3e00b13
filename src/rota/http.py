"""The worker's HTTP endpoints: ``/metrics`` (Prometheus), ``/healthz`` and ``/readyz``
(liveness and readiness probes), served from the worker's own event loop.

``pip install 'rota[web]'`` (Starlette, served by uvicorn: the stack of rota's dashboard);
``/metrics`` also needs ``rota[prometheus]``. ``rota worker --metrics-port N --health-port M``
uses this; the two ports may be the same, and they listen on 127.0.0.1 unless
``--http-host`` says otherwise.

The server runs on the worker's loop rather than in a thread: a probe answered by the loop
shows that the loop runs, and a loop blocked by a handler does not answer (the probe's timeout
says so) or answers with its lag (``/healthz``). uvicorn serves without its signal handlers (the
worker owns SIGTERM and SIGINT), on a socket bound here, so that a port in use is a clear
error and port 0 picks a free one.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from rota._errors import ConfigError
from rota.runtime.probes import Probes, Verdict

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

__all__ = ["DEFAULT_HOST", "EndpointServer", "endpoints_app"]

DEFAULT_HOST = "127.0.0.1"


def endpoints_app(*, probes: Probes | None = None, registry: CollectorRegistry | None = None) -> Starlette:
    """An ASGI app with ``/healthz`` and ``/readyz`` (with ``probes``) and ``/metrics``
    (with ``registry``), to serve here or to mount in an application's own server."""
    routes: list[Route] = []
    if probes is not None:

        async def healthz(request: Request) -> Response:
            return _answer(await probes.liveness())

        async def readyz(request: Request) -> Response:
            return _answer(await probes.readiness())

        routes += [Route("/healthz", healthz), Route("/readyz", readyz)]
    if registry is not None:
        from prometheus_client.exposition import choose_encoder

        async def metrics(request: Request) -> Response:
            encoder, content_type = choose_encoder(request.headers.get("accept", ""))
            return Response(encoder(registry), headers={"Content-Type": content_type})

        routes.append(Route("/metrics", metrics))
    return Starlette(routes=routes)


def _answer(verdict: Verdict) -> Response:
    return JSONResponse(verdict.body, status_code=200 if verdict.ok else 503)


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: SIGTERM and SIGINT belong to the worker, which
    stops these endpoints once it has stopped."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class EndpointServer:
    """Serves an ASGI app on ``host:port`` from the running event loop (``port`` 0: a free
    one, then ``self.port``)."""

    def __init__(self, app: Starlette, *, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Listen (connections queue from now on); raises ``ConfigError`` when the address
        cannot be bound."""
        try:
            family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
            sock = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise ConfigError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app, log_config=None, access_log=False, lifespan="off", server_header=False,
            timeout_graceful_shutdown=1,
        )  # fmt: skip
        config.load()
        server = self._server = _Server(config)
        self._task = asyncio.create_task(server.serve(sockets=[sock]), name=f"rota-http-{self.port}")

    async def stop(self) -> None:
        server, task = self._server, self._task
        self._server = self._task = None
        if server is None or task is None:
            return
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
