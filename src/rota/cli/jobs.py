"""``rota jobs list|show|cancel|abort|retry|purge``: look at and steer jobs."""

from __future__ import annotations

import argparse
from typing import Any

from rota._app import App
from rota._convert import parse_duration
from rota._errors import ConfigError
from rota._models import Attempt, Job, JobStatus
from rota.cli._format import (
    attempt_dict,
    attempts_table,
    console,
    job_dict,
    jobs_table,
    json_value,
    print_json,
    progress,
    when,
)
from rota.cli._load import add_actions_on_one, add_app_options, add_listing, on_app


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser(
        "jobs", help="list, show, cancel, abort, retry or purge jobs"
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = add_listing(actions, "jobs", list_jobs)
    listing.add_argument("--status", help="waiting, pending, running, succeeded, failed or cancelled")
    listing.add_argument("--queue")
    listing.add_argument("--task")
    listing.add_argument("--limit", type=int, default=50, help="at most this many (1-10000, default 50)")
    add_actions_on_one(actions, "job_id", (
        ("show", show, "show a job, its last error and traceback, its result and its attempts"),
        ("cancel", cancel, "cancel a pending or running job"),
        ("retry", retry, "run a failed or cancelled job again"),
    ))  # fmt: skip
    stop = actions.add_parser(
        "abort", help="stop a job wherever it is: pending or running (its run is stopped); "
        "a job that already ended is left as it was",
    )  # fmt: skip
    add_app_options(stop)
    stop.add_argument("job_id")
    stop.add_argument("--reason", default="", help="why (recorded with the aborted attempt)")
    stop.set_defaults(run=abort)
    purge = actions.add_parser("purge", help="delete finished jobs older than a retention")
    add_app_options(purge)
    purge.add_argument(
        "--older-than", required=True, metavar="AGE",
        help="finished longer ago than this: 30d, 12h, 90m, 3600 (seconds), 1h30m",
    )  # fmt: skip
    purge.add_argument(
        "--status", metavar="STATUS[,STATUS]",
        help="only jobs that ended so: succeeded, failed, cancelled (default: all three)",
    )  # fmt: skip
    purge.set_defaults(run=purge_jobs)


async def list_jobs(args: argparse.Namespace) -> int:
    jobs = await on_app(
        args,
        lambda app: app.list_jobs(status=args.status, queue=args.queue, task=args.task, limit=args.limit),
    )
    if args.json:
        print_json([job_dict(j) for j in jobs])
    else:
        console().print(jobs_table(jobs))
    return 0


async def show(args: argparse.Namespace) -> int:
    async def load(app: App) -> tuple[Job, list[Attempt]]:
        return await app.get_job(args.job_id), await app.attempts(args.job_id)

    job, attempts = await on_app(args, load)
    if args.json:
        print_json({**job_dict(job), "attempts": [attempt_dict(a) for a in attempts]})
        return 0
    from rich.markup import escape  # here: `rota worker` imports this module, never rich

    out = console()
    fields = {
        "id": job.id, "task": job.task, "queue": job.queue, "status": str(job.status),
        "priority": job.priority, "attempts": f"{job.attempts}/{job.max_attempts}",
        "due": when(job.due_at), "created": when(job.created_at), "finished": when(job.finished_at),
        "progress": progress(job),
        "key": job.key or "-", "schedule": job.schedule_id or "-",
        "payload": json_value(job.payload), "result": "-" if job.result is None else json_value(job.result),
        "last error": job.last_error or "-",
    }  # fmt: skip
    if job.parents:
        fields["parents"] = ", ".join(job.parents) + (
            f" ({job.parents_left} not ended)" if job.status is JobStatus.WAITING else ""
        )
    if job.dependants:
        fields["dependants"] = job.dependants
    for name, value in fields.items():
        out.print(f"[bold]{name:>10}[/bold]  {escape(str(value))}", highlight=False)
    failed = [a for a in attempts if a.traceback or a.error_type]
    if failed and failed[-1].traceback:
        out.print(f"\n[bold]traceback of attempt {failed[-1].number}[/bold]")
        out.print(failed[-1].traceback.rstrip(), highlight=False, markup=False)
    if attempts:
        out.print(attempts_table(attempts))
    return 0


async def cancel(args: argparse.Namespace) -> int:
    return _state(await on_app(args, lambda app: app.cancel(args.job_id)))


async def abort(args: argparse.Namespace) -> int:
    done = await on_app(args, lambda app: app.abort(args.job_id, reason=args.reason))
    if done.applied:
        return _state(done.job)
    print(f"{done.job.id} {done.job.status} (already ended: left as it was)")
    return 0


async def retry(args: argparse.Namespace) -> int:
    return _state(await on_app(args, lambda app: app.requeue(args.job_id)))


def _state(job: Job) -> int:
    print(f"{job.id} {job.status}")
    return 0


async def purge_jobs(args: argparse.Namespace) -> int:
    age = parse_duration("--older-than", args.older_than)
    statuses = None
    if args.status is not None:
        statuses = [s.strip() for s in args.status.split(",") if s.strip()]
        if not statuses:
            raise ConfigError("--status needs at least one of succeeded, failed, cancelled")
    removed = await on_app(args, lambda app: app.purge(older_than=age, statuses=statuses))
    print(f"purged {removed} job{'s' if removed != 1 else ''}")
    return 0
