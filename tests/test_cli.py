"""The ``rota`` command as a user drives it: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rota.cli import main
from tests.multiprocess._procs import ROOT

APP = "tests.cli_app:app"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def rota(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rota: error: ")
    assert "Traceback" not in err
    return lines[0]


def test_enqueue_then_list_show_cancel_and_retry(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = rota(
        capsys, "enqueue", APP, "--store", url, "send_email", '{"to": "a@x.org", "subject": "hi"}'
    )
    assert code == 0
    job_id = out.strip()
    code, out, _ = rota(capsys, "jobs", "list", "--app", APP, "--store", url)
    assert code == 0 and job_id in out and "pending" in out
    code, out, _ = rota(capsys, "jobs", "show", "--app", APP, "--store", url, job_id)
    assert code == 0 and "send_email" in out and "a@x.org" in out
    code, out, _ = rota(capsys, "jobs", "cancel", "--store", url, job_id)
    assert (code, out.strip()) == (0, f"{job_id} cancelled")
    code, out, _ = rota(capsys, "jobs", "retry", "--store", url, job_id)
    assert (code, out.strip()) == (0, f"{job_id} pending")
    code, _, err = rota(capsys, "jobs", "retry", "--store", url, job_id)
    assert code == 1 and "pending" in one_line_error(err)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["enqueue", APP, "nope"], "unknown task 'nope'"),
        (["enqueue", APP, "send_email", '{"to": 1}'], "payload does not fit Email"),
        (["enqueue", APP, "send_email", "{not json"], "not valid JSON"),
        (["enqueue", "no_such_module:app", "send_email"], "cannot import 'no_such_module'"),
        (["enqueue", "tests.cli_app:Email", "send_email"], "is not a rota.App"),
        (
            ["enqueue", APP, "send_email", '{"to": "a", "subject": "b"}', "--at", "tomorrow"],
            "not an ISO 8601",
        ),
        (["jobs", "show", "0123"], "no job with id '0123'"),
        (["jobs", "list", "--status", "finished"], "unknown status 'finished'"),
        (["schedules", "pause", "nope"], "'nope'"),
    ],
)
def test_bad_input_gets_one_line_and_a_non_zero_exit(
    capsys: pytest.CaptureFixture[str], url: str, argv: list[str], message: str
) -> None:
    code, _, err = rota(capsys, *argv, "--store", url)
    assert code == 1
    assert message in one_line_error(err)


def test_bad_store_url_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = rota(capsys, "jobs", "list", "--store", "mysql://localhost/x")
    assert code == 1 and "unknown store URL scheme 'mysql'" in one_line_error(err)


def test_schedules_commands_show_fire_times_in_the_schedule_zone(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    # a scheduler pass upserts the declared schedules; `trigger-now` then queues a job
    code, _, err = rota(capsys, "db", "migrate", "--store", url)
    assert code == 0, err
    import asyncio

    from rota import App
    from tests.cli_app import app

    async def declare() -> None:
        async with App(url) as other:
            other.declared_schedules = app.declared_schedules
            await other.schedules.sync_declared()

    asyncio.run(declare())
    code, out, _ = rota(capsys, "schedules", "list", "--app", APP, "--store", url)
    assert code == 0 and "nightly" in out and "CET" in out  # Europe/Berlin in winter
    code, out, _ = rota(capsys, "schedules", "pause", "--store", url, "nightly")
    assert (code, out.strip()) == (0, "nightly: paused")
    code, out, _ = rota(capsys, "schedules", "resume", "--store", url, "nightly")
    assert code == 0 and "02:00:00 CE" in out
    code, out, _ = rota(capsys, "schedules", "trigger-now", "--app", APP, "--store", url, "nightly")
    assert code == 0 and len(out.strip()) == 32
    code, out, _ = rota(capsys, "schedules", "remove", "--store", url, "nightly")
    assert (code, out.strip()) == (0, "nightly: removed")


def test_demo_works_through_jobs_and_shows_a_retry_and_a_dead_job(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "rota.cli", "demo", "--jobs", "300"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "summary" in proc.stdout
    assert "a retry that then succeeded" in proc.stdout and "succeeded" in proc.stdout
    assert "card declined" in proc.stdout  # the dead job's last error
    assert "Traceback" not in proc.stderr


def test_worker_exits_zero_on_sigterm(url: str) -> None:
    import signal

    proc = subprocess.Popen(
        [sys.executable, "-m", "rota.cli", "-v", "worker", APP, "--store", url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until it serves, without sleeping
        if "serving queues" in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err


def test_payload_json_of_the_stored_job_round_trips(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = rota(
        capsys, "enqueue", APP, "--store", url, "send_email", '{"to":"b@x.org","subject":"s"}'
    )
    job_id = out.strip()
    code, out, _ = rota(capsys, "jobs", "show", "--store", url, job_id)
    assert code == 0
    assert json.dumps({"to": "b@x.org", "subject": "s"})[1:10] in out.replace("'", '"')


def test_status_reports_instance_role_and_tasks(capsys: pytest.CaptureFixture[str], url: str) -> None:
    code, out, _ = rota(capsys, "status", "--app", APP, "--store", url, "--json")
    assert code == 0
    report = json.loads(out)
    assert report["store_ok"] is True and report["leader_election"] is True
    assert "send_email" in report["tasks"]
    code, _, err = rota(capsys, "status", "--store", "postgresql://127.0.0.1:1/nowhere", "--json")
    assert code == 1 and "Traceback" not in err


def test_worker_flags_reach_the_worker(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from rota.runtime.worker import Worker

    seen = {}

    async def fake_run(self: Worker) -> None:
        seen.update(vars(self.settings))

    monkeypatch.setattr(Worker, "run", fake_run)
    argv = ["worker", APP, "--store", url, "-c", "7", "-q", "mail,default", "--lease", "12", "--grace", "3",
            "--no-scheduler", "--prune-schedules", "--claim-batch", "250"]  # fmt: skip
    assert main(argv) == 0
    assert seen["concurrency"] == 7 and seen["queues"] == ("mail", "default")
    assert seen["lease"] == 12 and seen["grace"] == 3
    assert seen["scheduler"] is False and seen["prune_schedules"] is True
    assert seen["claim_batch"] == 250


def test_declared_schedules_reach_the_store_given_with_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    # no scheduler has run: the app's @app.cron schedule is there as soon as it is used
    code, out, err = rota(capsys, "schedules", "list", "--app", APP, "--store", url)
    assert code == 0, err
    assert "nightly" in out
    code, out, err = rota(capsys, "schedules", "pause", "--app", APP, "--store", url, "nightly")
    assert (code, out.strip()) == (0, "nightly: paused"), err
    code, out, _ = rota(capsys, "schedules", "show", "--app", APP, "--store", url, "nightly")
    assert code == 0 and "paused" in out  # declaring it again did not resume it

    from rota.runtime.worker import Worker

    seen: dict[str, object] = {}

    async def fake_run(self: Worker) -> None:
        seen["declared"] = sorted(self.context.declared.schedules)
        seen["store"] = self.context.store.describe()

    monkeypatch.setattr(Worker, "run", fake_run)
    assert main(["worker", APP, "--store", url]) == 0
    assert seen["declared"] == ["nightly"]  # the worker's scheduler will upsert and fire them
    assert "cli.db" in str(seen["store"])


def test_status_shows_queue_depths_and_the_leader_from_the_store(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    import asyncio
    from datetime import UTC, datetime, timedelta

    from rota import App, JobStatus
    from rota._models import ErrorInfo, Finish, Outcome

    async def fill() -> None:
        async with App(url) as app:
            from tests.cli_app import Email, send_email

            mail = Email("a@x.org", "hi")
            for options in ({}, {}, {}, {}, {"delay": 600}, {"delay": 900}, {"queue": "other"}):
                await app.enqueue(send_email, mail, **options)
            store, now = app.store, datetime.now(UTC)
            running = await store.claim(
                queues=["default"], worker="w", limit=2, lease_for=timedelta(seconds=60), now=now
            )
            dead = Finish(running[1].id, running[1].token, Outcome.FAILED, error=ErrorInfo("E", "boom"))
            assert await store.finish([dead], worker="w", now=now) == [True]
            lease = await store.acquire_lease(
                "leader:rota-scheduler", owner="node-7", ttl=timedelta(seconds=120), now=now
            )
            assert lease is not None
            assert (await app.stats()).counts["default"][JobStatus.PENDING] == 4

    asyncio.run(fill())
    code, out, err = rota(capsys, "status", "--store", url, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["queues"] == {
        "default": {"pending": 2, "delayed": 2, "running": 1, "failed": 1, "succeeded": 0, "cancelled": 0},
        "other": {"pending": 1, "delayed": 0, "running": 0, "failed": 0, "succeeded": 0, "cancelled": 0},
    }
    assert report["leader"]["id"] == "node-7"  # the lease's holder, not this CLI process
    assert "executes_jobs" not in report and "is_leader" not in report and "instance_id" not in report
    code, out, _ = rota(capsys, "status", "--store", url)
    assert code == 0
    assert "node-7" in out
    [row] = [line for line in out.splitlines() if "default" in line]
    assert [cell.strip() for cell in row.split("│")[1:8]] == ["default", "2", "2", "1", "1", "0", "0"]
    assert "executes jobs" not in out and "this instance" not in out


def test_schedule_lease_flag_reaches_the_scheduler(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    from rota.runtime.worker import Worker

    seen: dict[str, object] = {}

    async def fake_run(self: Worker) -> None:
        assert self.services.scheduler is not None
        seen["lease"] = self.services.scheduler.lease.total_seconds()

    monkeypatch.setattr(Worker, "run", fake_run)
    assert main(["worker", APP, "--store", url, "--schedule-lease", "45"]) == 0
    assert seen["lease"] == 45


def test_jobs_show_has_the_progress_and_workers_lists_the_live_workers(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    import asyncio
    from datetime import timedelta

    from rota import App, WorkerInfo
    from rota._models import LeaseRef, Progress

    code, out, _ = rota(
        capsys, "enqueue", APP, "--store", url, "send_email", '{"to": "a@x.org", "subject": "s"}'
    )
    job_id = out.strip()

    async def run_part_way() -> None:
        async with App(url) as app:
            store, now = app.store, app.clock.now()
            (job,) = await store.claim(
                queues=["default"], worker="w-cli", limit=1, lease_for=timedelta(seconds=30), now=now
            )
            await store.set_progress(LeaseRef(job.id, job.token), Progress(0.4, "reading [files]"), now=now)
            info = WorkerInfo("w-cli", "box-1", 4242, ("default", "mail"), 8, 1, "9.9.9", now)
            await store.register_worker(info, ttl=timedelta(seconds=30), now=now)

    asyncio.run(run_part_way())
    code, out, _ = rota(capsys, "jobs", "show", "--store", url, job_id)
    assert code == 0
    assert "40% reading [files]" in out  # stored text is shown, never read as markup
    code, out, _ = rota(capsys, "jobs", "show", "--store", url, job_id, "--json")
    shown = json.loads(out)
    assert (shown["progress"], shown["progress_message"]) == (0.4, "reading [files]")
    assert shown["progress_at"] is not None
    code, out, _ = rota(capsys, "workers", "--store", url)
    assert code == 0
    assert "w-cli" in out and "box-1" in out and "default,mail" in out and "1/8" in out
    code, out, _ = rota(capsys, "workers", "--store", url, "--json")
    (worker,) = json.loads(out)
    assert {k: worker[k] for k in ("id", "host", "pid", "queues", "concurrency", "running", "version")} == {
        "id": "w-cli", "host": "box-1", "pid": 4242, "queues": ["default", "mail"], "concurrency": 8,
        "running": 1, "version": "9.9.9",
    }  # fmt: skip
