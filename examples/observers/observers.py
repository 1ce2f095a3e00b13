"""Jobs on the in-process memory store: observe every status change, wait for a batch of
jobs and for the whole queue, retry flaky work with linear and backpressure delays.

Run it with ``python observers.py``.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import rota

app = rota.App("memory://")  # lives in this process only: tools, tests, single-process services


@dataclass
class Thumbnail:
    image: str
    width: int


# A flaky storage service: reading these images fails this many times before it works.
FLAKY = {"cat.png": 2, "dog.png": 1}
reads: Counter[str] = Counter()


# linear: waits base * n after failed attempt n, so 0.1 s, 0.2 s, 0.3 s
@app.task(retry=rota.RetryPolicy(attempts=4, backoff="linear", base=0.1))
async def make_thumbnail(spec: Thumbnail) -> str:
    reads[spec.image] += 1
    if reads[spec.image] <= FLAKY.get(spec.image, 0):
        raise ConnectionError(f"storage timed out reading {spec.image}")
    return f"thumbs/{spec.width}/{spec.image}"


# backpressure: waits base * n**2 after failed attempt n, so 0.05 s, 0.2 s, then gives up
@app.task(retry=rota.RetryPolicy(attempts=3, backoff="backpressure", base=0.05))
async def notify(user: str) -> None:
    raise ConnectionError(f"mail server refused {user}")  # never works: the job dies


@app.task
def count_words(text: str) -> int:  # a plain def: runs in the worker's thread pool
    return len(text.split())


def observe(event: rota.Event) -> None:
    """A status observer: called for every change of every job this process handles."""
    line = f"{event.kind:<9} {event.job.task.rsplit('.', 1)[-1]:<14} {event.job.id[-6:]}"
    if event.error is not None:
        line += f"  {event.error.summary()}"
    if event.retry_at is not None:
        wait = (event.retry_at - app.clock.now()).total_seconds()
        line += f"  (again in {max(wait, 0):.2f}s)"
    print(line)


ENDED = frozenset({rota.JobStatus.SUCCEEDED, rota.JobStatus.FAILED, rota.JobStatus.CANCELLED})


async def wait_for(jobs: Iterable[rota.Job], timeout: float) -> list[rota.Job]:
    """Wait until every one of ``jobs`` has ended (retries included); return them as stored."""
    ids = [job.id for job in jobs]
    waiting = set(ids)
    all_ended = asyncio.Event()

    def on_end(event: rota.Event) -> None:
        waiting.discard(event.job.id)
        if not waiting:
            all_ended.set()

    unsubscribe = app.on([rota.EventKind.SUCCEEDED, rota.EventKind.FAILED, rota.EventKind.CANCELLED], on_end)
    try:
        for job_id in ids:  # some may have ended before we subscribed
            if (await app.get_job(job_id)).status in ENDED:
                waiting.discard(job_id)
        if waiting:
            await asyncio.wait_for(all_ended.wait(), timeout)
    finally:
        unsubscribe()
    return [await app.get_job(job_id) for job_id in ids]


async def main() -> None:
    stop_observing = app.on(None, observe)  # None: every kind of event
    async with app, app.worker(concurrency=4):
        print("-- a batch with flaky work: wait for exactly these jobs, retries included")
        batch = await app.enqueue_many(
            [make_thumbnail.prepare(Thumbnail(name, 320)) for name in ("cat.png", "dog.png", "owl.png")]
            + [notify.prepare("ada@example.com")]
        )
        for job in await wait_for(batch, timeout=30):
            history = [attempt.outcome.value for attempt in await app.attempts(job.id)]
            print(f"   {job.payload.decode():<34} {job.status:<9} attempts: {', '.join(history)}")

        stop_observing()
        print("-- many quick jobs: wait until the queue is idle")
        texts = [f"job number {n} of the second batch" for n in range(20)]
        await app.enqueue_many(count_words.prepare(text) for text in texts)
        await app.wait_until_idle(timeout=30)
        stats = await app.stats()
        print(
            f"   idle: {stats.total(rota.JobStatus.SUCCEEDED)} succeeded, "
            f"{stats.total(rota.JobStatus.FAILED)} failed, {stats.total(rota.JobStatus.PENDING)} pending"
        )
        done = await app.list_jobs(task=count_words.name, status="succeeded")
        print(f"   words counted: {sum(json.loads(job.result or b'0') for job in done)}")  # results are JSON


if __name__ == "__main__":
    asyncio.run(main())
