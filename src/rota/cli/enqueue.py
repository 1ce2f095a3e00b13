"""``rota enqueue MODULE:APP TASK [PAYLOAD]``: queue one job from the shell."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import Any

from rota._errors import ConfigError
from rota.cli._load import add_app_options, app_from_args


def register(commands: Any) -> None:
    parser: argparse.ArgumentParser = commands.add_parser("enqueue", help="queue a job")
    add_app_options(parser, required=True)
    parser.add_argument("task", help="task name")
    parser.add_argument("payload", nargs="?", default="null", help="JSON payload (default null)")
    parser.add_argument("--delay", type=float, help="seconds from now")
    parser.add_argument("--at", help="ISO 8601 time with offset, e.g. 2030-01-01T09:00:00+01:00")
    parser.add_argument("--key", help="dedupe key")
    parser.add_argument("--id", dest="job_id", help="the job's id (an existing job with it is kept)")
    parser.add_argument("--priority", type=int, help="higher runs first")
    parser.add_argument("--queue", help="override the task's queue")
    parser.set_defaults(run=run)


async def run(args: argparse.Namespace) -> int:
    app = app_from_args(args)
    task = app.get_task(args.task)
    try:
        raw = args.payload.encode()
    except UnicodeEncodeError:
        raise ConfigError("the payload is not valid UTF-8 text") from None
    payload = task.decode(raw)
    at = None
    if args.at:
        try:
            at = datetime.fromisoformat(args.at)
        except ValueError:
            raise ConfigError(f"--at {args.at!r} is not an ISO 8601 time") from None
    try:
        job = await app.enqueue(
            task,
            payload,
            delay=args.delay,
            at=at,
            key=args.key,
            priority=args.priority,
            queue=args.queue,
            id=args.job_id,
        )
    finally:
        await app.close()
    print(job.id)
    return 0
