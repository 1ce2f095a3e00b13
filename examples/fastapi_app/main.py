"""A FastAPI app that queues work from its endpoints with rota.

    uvicorn main:api --port 8000

The lifespan opens the rota App when the server starts and closes it when it stops. With
``RUN_WORKER=1`` (the default here) the server also runs a worker in-process, which is enough
for a small deployment; set ``RUN_WORKER=0`` and run ``rota worker main:app`` as separate
processes to scale the workers apart from the web servers. The store is ``ROTA_STORE_URL``
(default: the SQLite file ./rota.db).
"""

from __future__ import annotations

import asyncio
import json
import os

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

import rota
from rota.contrib.fastapi import RotaApp, lifespan

app = rota.App(os.environ.get("ROTA_STORE_URL", "sqlite:///rota.db"))


class Welcome(BaseModel):
    """The payload of a welcome email: rota checks it against this model when queued."""

    email: str
    name: str


@app.task(retry=rota.RetryPolicy(attempts=5, backoff="exponential", base=1))
async def send_welcome(welcome: Welcome) -> str:
    await asyncio.sleep(0.1)  # stands for the mail provider's API call
    print(f"welcome email sent to {welcome.name} <{welcome.email}>", flush=True)
    return welcome.email


in_process = os.environ.get("RUN_WORKER", "1") == "1"
api = FastAPI(lifespan=lifespan(app, worker=in_process, concurrency=4, grace=10))


@api.post("/signups", status_code=202)
async def signup(welcome: Welcome, jobs: RotaApp) -> dict[str, str]:
    """Queue the welcome email and answer at once; a signup repeated within the key's
    lifetime (until the job is purged) gets the same job back, not a second email."""
    job = await jobs.enqueue(send_welcome, welcome, key=f"welcome:{welcome.email}")
    return {"job": job.id, "status": job.status.value}


@api.get("/jobs/{job_id}")
async def job_status(job_id: str, jobs: RotaApp) -> dict[str, object]:
    try:
        job = await jobs.get_job(job_id)
    except rota.JobNotFound:
        raise HTTPException(status_code=404, detail=f"no job {job_id}") from None
    result = json.loads(job.result) if job.result is not None else None
    return {"job": job.id, "status": job.status.value, "attempts": job.attempts, "result": result}
