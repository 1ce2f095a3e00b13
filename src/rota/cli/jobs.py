"""``rota jobs list|show|cancel|retry``: look at and steer jobs."""

from __future__ import annotations

import argparse
from typing import Any

from rota._serde import decode_json
from rota.cli._format import attempts_table, console, jobs_table, when
from rota.cli._load import add_app_options, app_from_args


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("jobs", help="list, show, cancel or retry jobs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list jobs")
    add_app_options(listing)
    listing.add_argument("--status", help="pending, running, succeeded, failed or cancelled")
    listing.add_argument("--queue")
    listing.add_argument("--task")
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(run=list_jobs)
    for name, handler, text in (
        ("show", show, "show a job and its attempts"),
        ("cancel", cancel, "cancel a pending or running job"),
        ("retry", retry, "run a failed or cancelled job again"),
    ):
        sub = actions.add_parser(name, help=text)
        add_app_options(sub)
        sub.add_argument("job_id")
        sub.set_defaults(run=handler)


async def list_jobs(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    try:
        jobs = await app.list_jobs(status=args.status, queue=args.queue, task=args.task, limit=args.limit)
    finally:
        await app.close()
    console().print(jobs_table(jobs))
    return 0


async def show(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    try:
        job = await app.get_job(args.job_id)
        attempts = await app.attempts(args.job_id)
    finally:
        await app.close()
    out = console()
    fields = {
        "id": job.id, "task": job.task, "queue": job.queue, "status": str(job.status),
        "priority": job.priority, "attempts": f"{job.attempts}/{job.max_attempts}",
        "due": when(job.due_at), "created": when(job.created_at), "finished": when(job.finished_at),
        "key": job.key or "-", "schedule": job.schedule_id or "-",
        "payload": decode_json(job.payload), "last error": job.last_error or "-",
    }  # fmt: skip
    for name, value in fields.items():
        out.print(f"[bold]{name:>9}[/bold]  {value}", highlight=False)
    if attempts:
        out.print(attempts_table(attempts))
    return 0


async def cancel(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    try:
        job = await app.cancel(args.job_id)
    finally:
        await app.close()
    print(f"{job.id} {job.status}")
    return 0


async def retry(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    try:
        job = await app.requeue(args.job_id)
    finally:
        await app.close()
    print(f"{job.id} {job.status}")
    return 0
