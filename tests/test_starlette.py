"""rota.contrib.starlette / rota.contrib.fastapi over real HTTP (uvicorn on 127.0.0.1) and real
stores: the lifespan opens and closes the App, runs an in-process worker that stops
gracefully, and endpoints enqueue through the dependency."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import rota
from rota.contrib.fastapi import RotaApp
from rota.contrib.starlette import get_app, get_worker, lifespan
from tests.servers._common import free_port
from tests.web import DEADLINE, Served


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'web.db'}"
        return
    from tests.servers.postgres import with_query

    yield with_query(request.getfixturevalue("postgres_server").url, schema=f"web_{uuid.uuid4().hex[:12]}")


def signup_api(app: rota.App, task: rota.Task[str], **lifespan_options: object) -> FastAPI:
    api = FastAPI(lifespan=lifespan(app, **lifespan_options))

    @api.post("/signups")
    async def signup(body: dict[str, str], jobs: RotaApp) -> dict[str, str]:
        job = await jobs.enqueue(task, body["email"], key=f"welcome:{body['email']}")
        return {"job": job.id, "status": job.status.value}

    @api.get("/jobs/{job_id}")
    async def show(job_id: str, jobs: RotaApp) -> dict[str, str | None]:
        job = await jobs.get_job(job_id)
        return {"status": job.status.value, "result": None if job.result is None else json.loads(job.result)}

    return api


async def test_fastapi_endpoint_enqueues_and_the_lifespan_closes_the_store(store_url: str) -> None:
    app = rota.App(store_url)

    @app.task
    async def welcome(email: str) -> None:
        raise AssertionError("no worker runs in this web process")

    served = Served(signup_api(app, welcome))
    status, body = await served.request("POST", "/signups", {"email": "ada@example.com"})
    assert (status, body["status"]) == (200, "pending"), body
    again = await served.request("POST", "/signups", {"email": "ada@example.com"})
    assert again == (200, body)  # the key dedupes: the same job
    assert (await served.request("GET", f"/jobs/{body['job']}"))[1]["status"] == "pending"
    await served.stop()

    with pytest.raises(rota.StoreClosed):  # the lifespan closed the app's store on shutdown
        await app.store.get_job(body["job"])
    async with rota.App(store_url) as other:  # another process's view: the job was stored
        [job] = await other.list_jobs()
        assert (job.id, job.task, job.status) == (body["job"], welcome.name, rota.JobStatus.PENDING)


async def test_the_in_process_worker_runs_what_endpoints_enqueue(store_url: str) -> None:
    app = rota.App(store_url)
    done = asyncio.Event()

    @app.task
    async def welcome(email: str) -> str:
        done.set()
        return f"welcomed {email}"

    served = Served(signup_api(app, welcome, worker=True, concurrency=2, lease=5))
    status, body = await served.request("POST", "/signups", {"email": "bob@example.com"})
    assert status == 200
    await asyncio.wait_for(done.wait(), DEADLINE)
    await app.wait_until_idle(timeout=DEADLINE)
    assert await served.request("GET", f"/jobs/{body['job']}") == (
        200, {"status": "succeeded", "result": "welcomed bob@example.com"},
    )  # fmt: skip
    await served.stop()
    async with rota.App(store_url) as other:
        assert (await other.get_job(body["job"])).attempts == 1


@pytest.mark.parametrize("grace", [10.0, 0.0])
async def test_shutdown_stops_the_worker_gracefully(tmp_path: Path, grace: float) -> None:
    """A job running when the server is told to stop: with a grace period it finishes and its
    success is written before the store closes; without one it is given back (pending again,
    the attempt not spent), so another worker takes it at once."""
    url = f"sqlite:///{tmp_path / 'web.db'}"
    app = rota.App(url)
    started, gate = asyncio.Event(), asyncio.Event()

    @app.task
    async def welcome(email: str) -> str:
        started.set()
        await gate.wait()
        return "sent"

    served = Served(signup_api(app, welcome, worker=True, grace=grace, lease=5))
    _, body = await served.request("POST", "/signups", {"email": "cy@example.com"})
    await asyncio.wait_for(started.wait(), DEADLINE)
    stopping = asyncio.create_task(served.stop())
    if grace:
        await asyncio.sleep(0.2)  # not waiting for a condition: the shutdown must still be waiting here
        assert not stopping.done()
        gate.set()
    await asyncio.wait_for(stopping, DEADLINE)

    async with rota.App(url) as other:
        job = await other.get_job(body["job"])
        if grace:
            assert (job.status, job.attempts, job.result) == (rota.JobStatus.SUCCEEDED, 1, b'"sent"')
        else:
            assert (job.status, job.attempts) == (rota.JobStatus.PENDING, 0)
            assert job.lease_owner is None


async def test_a_starlette_endpoint_and_the_worker_status(tmp_path: Path) -> None:
    app = rota.App(f"sqlite:///{tmp_path / 'web.db'}")

    @app.task
    async def ping() -> None: ...

    async def enqueue(request: Request) -> JSONResponse:
        job = await get_app(request).enqueue(ping)
        worker = get_worker(request)
        return JSONResponse({"job": job.id, "worker": None if worker is None else worker.id})

    web = Starlette(routes=[Route("/ping", enqueue, methods=["POST"])], lifespan=lifespan(app))
    served = Served(web)
    status, body = await served.request("POST", "/ping")
    await served.stop()
    assert status == 200 and body["worker"] is None and body["job"]


async def test_get_app_without_the_lifespan_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    async def enqueue(request: Request) -> JSONResponse:
        try:
            get_app(request)
        except rota.ConfigError as exc:
            return JSONResponse({"error": str(exc)}, status_code=500)
        return JSONResponse({})

    served = Served(Starlette(routes=[Route("/x", enqueue, methods=["POST"])]))
    status, body = await served.request("POST", "/x")
    await served.stop()
    assert status == 500 and "rota.contrib.starlette.lifespan(app)" in body["error"]


async def test_an_unreachable_store_fails_the_startup(caplog: pytest.LogCaptureFixture) -> None:
    """The server does not start taking requests it could not queue (a closed loopback port)."""
    app = rota.App(f"postgresql://nobody@127.0.0.1:{free_port()}/db?connect_timeout=2")
    served = Served(Starlette(lifespan=lifespan(app)))
    with caplog.at_level(logging.ERROR):
        await asyncio.wait_for(served.task, DEADLINE)  # uvicorn exits: the startup failed
    served.sock.close()
    assert served.exit_code == 3  # uvicorn's STARTUP_FAILURE
    assert not served.server.started
    assert "Application startup failed" in caplog.text and "StoreUnavailable" in caplog.text


def test_bad_lifespan_arguments_are_clear_errors() -> None:
    app = rota.App("memory://")
    with pytest.raises(rota.ConfigError, match="worker=False"):
        lifespan(app, concurrency=4)
    with pytest.raises(rota.ConfigError, match="concurrency"):
        lifespan(app, worker=True, concurrency=0)
    with pytest.raises(rota.ConfigError, match=r"takes a rota\.App"):
        lifespan("memory://")  # type: ignore[arg-type]


def test_importing_rota_loads_no_framework() -> None:
    code = (
        "import sys, rota, rota.sync\n"
        "frameworks = {'starlette', 'fastapi', 'django', 'uvicorn'}\n"
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & frameworks)\n"
        "print(','.join(loaded))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
