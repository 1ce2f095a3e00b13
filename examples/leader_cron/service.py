"""A leader-only cron service with a health endpoint.

Run two or more copies against one store: they elect a leader, and only the leader fires the
cron schedule and runs its jobs (``leader_only_execution``); the others are hot standbys that
take over within about a lease's length when the leader stops or dies. Each serves
``GET /health`` (Starlette on uvicorn): its role, who leads, the store, the queues.

    python service.py --port 8001        # another terminal: python service.py --port 8002
    curl -s 127.0.0.1:8001/health

The store is ``ROTA_STORE_URL`` (default: the SQLite file ./rota.db, which processes on one
host share; use PostgreSQL, Redis or MongoDB across hosts). ``ROTA_INSTANCE_ID`` names the
instance (default host:pid:random).
"""

from __future__ import annotations

import argparse
import logging
import os
from datetime import UTC, datetime

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import rota
from rota.contrib.starlette import get_app, lifespan

app = rota.App(os.environ.get("ROTA_STORE_URL", "sqlite:///rota.db"))


# Six fields, the first one seconds: every 2 seconds, to see it work; a real one might be
# "0 3 * * *" (03:00 every day). One job per fire, however many instances run.
@app.cron("*/2 * * * * *", id="nightly-report")
def nightly_report() -> None:
    # one write per line: plain def tasks run in the worker's threads, several at once
    print(f"report by {app.instance_id} at {datetime.now(UTC):%H:%M:%S}\n", end="", flush=True)


# Leader election on, with a short lease so that a standby takes over quickly (the default
# ttl is 30 s); only the leader's worker claims jobs.
LEADER = rota.LeaderSettings(enabled=True, leader_only_execution=True, ttl=3)


async def health(request: Request) -> JSONResponse:
    """200 with this instance's role while the store answers, 503 when it does not (a load
    balancer or an orchestrator's probe can act on either)."""
    report = await get_app(request).health()
    body = {
        "instance": report.instance_id,
        "leader": report.is_leader,
        "leader_id": report.leader.id if report.leader else None,
        "leader_since": report.leader.since.isoformat() if report.leader else None,
        "fires_schedules": report.fires_schedules,
        "executes_jobs": report.executes_jobs,
        "store": report.store,
        "store_ok": report.store_ok,
        "error": report.error,
        "queues": {name: depth.pending for name, depth in report.queues.items()},
    }
    return JSONResponse(body, status_code=200 if report.store_ok else 503)


web = Starlette(
    routes=[Route("/health", health)],
    # opens the app, runs the worker (and its scheduler and election) in this process, and
    # stops it gracefully on SIGTERM: a leader that stops gives up its lease at once
    lifespan=lifespan(app, worker=True, leader=LEADER, grace=5),
)

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    args = parser.parse_args()
    # rota's election logs who leads; uvicorn logs its start and stop
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logging.getLogger("rota.leader").setLevel(logging.INFO)
    uvicorn.run(web, host="127.0.0.1", port=args.port, log_level="info")
