"""Starlette and FastAPI glue (``pip install 'rota[web]'``: FastAPI, so Starlette, and uvicorn).

``lifespan(app)`` opens the rota App when the web app starts and closes it when it stops;
``worker=True`` also runs a worker in the web process, for small deployments, stopped
gracefully (its ``grace`` for running jobs, the rest released) before the store closes::

    api = FastAPI(lifespan=rota.contrib.starlette.lifespan(app, worker=True, concurrency=4))

    @api.post("/signups")
    async def signup(email: str, jobs: rota.App = Depends(get_app)) -> dict[str, str]:
        job = await jobs.enqueue(send_welcome, email)
        return {"job": job.id}

``get_app(request)`` is the dependency: FastAPI fills ``request`` itself; a Starlette
endpoint calls it with its request. It finds the App in the lifespan's state, so it needs
a server that supports lifespan state (uvicorn, hypercorn, daphne do).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from starlette.requests import HTTPConnection

from rota._app import App
from rota._errors import ConfigError
from rota.runtime.worker import Worker
from rota.runtime.worker_settings import WorkerSettings

__all__ = ["STATE_KEY", "get_app", "get_worker", "lifespan"]

#: where the lifespan puts the App in the web app's lifespan state (``request.state``)
STATE_KEY = "rota"
_WORKER_KEY = "rota_worker"

Lifespan = Callable[[Any], AbstractAsyncContextManager[dict[str, Any]]]


def lifespan(app: App, *, worker: bool = False, **worker_settings: Any) -> Lifespan:
    """A lifespan for ``Starlette(lifespan=...)`` / ``FastAPI(lifespan=...)``.

    On startup it opens ``app`` (connects and migrates its store: a store that cannot be
    reached fails the startup, so the server does not take traffic it cannot queue) and,
    with ``worker=True``, starts ``app.worker(**worker_settings)`` (``WorkerSettings``;
    checked before anything is opened). On shutdown it stops the worker gracefully, then
    closes the store. The state it yields holds the App under ``STATE_KEY`` (and the worker);
    to combine it with a lifespan of your own, enter it inside yours and merge the states::

        @asynccontextmanager
        async def both(api):
            async with lifespan(app)(api) as state, my_resources() as mine:
                yield {**state, **mine}
    """
    if not isinstance(app, App):
        raise ConfigError(f"lifespan takes a rota.App, got {type(app).__name__}")
    if worker_settings and not worker:
        raise ConfigError("worker settings given but worker=False")
    settings = WorkerSettings(**worker_settings) if worker else None

    @asynccontextmanager
    async def run(_asgi_app: object) -> AsyncIterator[dict[str, Any]]:
        await app.open()
        try:
            if settings is None:
                yield {STATE_KEY: app}
                return
            service = Worker(app.context, settings)
            await service.start()
            try:
                yield {STATE_KEY: app, _WORKER_KEY: service}
            finally:
                await service.stop()
        finally:
            await app.close()

    return run


def get_app(request: HTTPConnection) -> App:
    """The App the lifespan opened: a FastAPI dependency (``Depends(get_app)``), or called
    with a Starlette request or websocket. ``ConfigError`` when the web app does not run
    rota's lifespan."""
    app = getattr(request.state, STATE_KEY, None)
    if not isinstance(app, App):
        raise ConfigError("no rota App in the request state: pass rota.contrib.starlette.lifespan(app) "
                          "as the web app's lifespan")  # fmt: skip
    return app


def get_worker(request: HTTPConnection) -> Worker | None:
    """The worker the lifespan runs in this process (None with ``worker=False``): its
    ``active`` jobs and ``counters`` for a status page."""
    found = getattr(request.state, _WORKER_KEY, None)
    return found if isinstance(found, Worker) else None
