"""What users expect of the command and the package (issue #11, "CLI and packaging basics"):
--version, python -m rota, log flags anywhere, --json, jobs show with the traceback and the
result, rota jobs purge, project metadata."""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import rota
from rota import App
from rota.cli import build_parser, main
from tests.multiprocess._procs import ROOT

APP = "tests.cli_app:app"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_version_and_python_dash_m() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    version = pyproject["project"]["version"]
    assert rota.__version__ == version == importlib.metadata.version("rota")
    for command in (["-m", "rota", "--version"], ["-m", "rota.cli", "--version"]):
        done = subprocess.run(
            [sys.executable, *command], capture_output=True, text=True, cwd=ROOT, check=False
        )
        assert (done.returncode, done.stdout.strip()) == (0, f"rota {version}")
    done = subprocess.run(
        [sys.executable, "-m", "rota", "jobs", "list", "--store", "memory://", "--json"],
        capture_output=True, text=True, cwd=ROOT, check=False,
    )  # fmt: skip
    assert (done.returncode, json.loads(done.stdout)) == (0, [])


@pytest.mark.parametrize(
    ("argv", "level"),
    [
        ([], logging.WARNING),
        (["-v"], logging.INFO),
        (["-vv"], logging.DEBUG),
        (["--log-level", "error"], logging.ERROR),
        (["--log-level", "DEBUG"], logging.DEBUG),
        (["-v", "--log-level", "warning"], logging.WARNING),
    ],
)
def test_log_flags_work_before_or_after_the_subcommand(argv: list[str], level: int) -> None:
    from rota.cli import log_level

    parser = build_parser()
    for line in (
        [*argv, "jobs", "list"],
        ["jobs", *argv, "list"],
        ["jobs", "list", *argv],
        [*argv, "worker", APP, "-c", "2"],
        ["worker", APP, *argv],
        ["schedules", "show", "x", *argv],
    ):
        assert log_level(parser.parse_args(line)) == level, line


def test_the_log_level_reaches_logging(capsys: pytest.CaptureFixture[str], url: str) -> None:
    root = logging.getLogger()
    before = root.level
    try:
        assert run(capsys, "jobs", "list", "--store", url, "--log-level", "error")[0] == 0
        assert root.level == logging.ERROR
        assert run(capsys, "-v", "jobs", "list", "--store", url)[0] == 0
        assert root.level == logging.INFO
    finally:
        root.setLevel(before)


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["nope"],
        ["jobs", "list", "--limit", "x"],
        ["jobs", "list", "--log-level", "loud"],
        ["enqueue", APP, "send_email", "--priority", "1.5"],
        ["worker", APP, "--lease", "soon"],
        ["jobs", "purge"],
    ],
)
def test_usage_errors_are_one_line_and_exit_one(capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rota: error: "), err
    assert "--help" in lines[0] and out == ""


async def _work(url: str) -> dict[str, str]:
    """Jobs in every final state in the store at ``url``: one succeeded with a result, one
    failed with a traceback (and markup-like text), one cancelled."""
    app = App(url, instance_id="w1")

    @app.task(name="answer")
    async def answer(n: int) -> dict[str, int]:
        return {"answer": n}

    @app.task(name="boom", retry=1)
    async def boom() -> None:
        raise ValueError("bad [/x] thing")

    ids = {
        "ok": (await answer.enqueue(42)).id,
        "dead": (await boom.enqueue()).id,
        "cancelled": (await answer.enqueue(1, delay=3600)).id,
    }
    await app.cancel(ids["cancelled"])
    async with app.worker(concurrency=2):
        await app.wait_until_idle(timeout=10)
    await app.close()
    return ids


def test_jobs_show_prints_the_result_and_the_last_traceback(
    capsys: pytest.CaptureFixture[str], url: str
) -> None:
    ids = asyncio.run(_work(url))
    code, out, _ = run(capsys, "jobs", "show", "--store", url, ids["ok"])
    assert code == 0
    assert "result" in out and "{'answer': 42}" in out
    code, out, _ = run(capsys, "jobs", "show", "--store", url, ids["dead"])
    assert code == 0
    assert "ValueError: bad [/x] thing" in out  # the last error, markup shown as text
    assert "traceback of attempt 1" in out and "Traceback (most recent call last)" in out
    assert 'raise ValueError("bad [/x] thing")' in out
    code, out, _ = run(capsys, "jobs", "list", "--store", url)  # markup in a table cell too
    assert code == 0 and "bad [/x] thing" in out


def test_json_output_of_jobs_and_schedules(capsys: pytest.CaptureFixture[str], url: str) -> None:
    ids = asyncio.run(_work(url))
    code, out, _ = run(capsys, "jobs", "list", "--store", url, "--json")
    listed = {j["id"]: j for j in json.loads(out)}
    assert code == 0 and set(listed) == set(ids.values())
    assert listed[ids["ok"]]["result"] == {"answer": 42} and listed[ids["ok"]]["payload"] == 42
    assert listed[ids["dead"]]["status"] == "failed"
    code, out, _ = run(capsys, "jobs", "show", "--store", url, ids["dead"], "--json")
    shown = json.loads(out)
    assert code == 0 and shown["last_error"] == "ValueError: bad [/x] thing"
    [attempt] = shown["attempts"]
    assert attempt["outcome"] == "failed" and "Traceback" in attempt["traceback"]

    async def add_schedule() -> None:
        app = App(url)

        @app.task(name="tick")
        async def tick() -> None: ...

        await app.schedules.add("every-minute", task=tick, trigger=rota.Every(60), payload=None)
        await app.close()

    asyncio.run(add_schedule())
    code, out, _ = run(capsys, "schedules", "list", "--store", url, "--json")
    [schedule] = json.loads(out)
    assert code == 0 and schedule["id"] == "every-minute" and schedule["trigger"] == "every 1 minute"
    assert schedule["next_fire_at"] is not None and schedule["paused"] is False
    code, out, _ = run(capsys, "schedules", "show", "--store", url, "every-minute", "--json")
    assert code == 0 and json.loads(out) == schedule


def test_jobs_purge_by_age_and_status(capsys: pytest.CaptureFixture[str], url: str) -> None:
    ids = asyncio.run(_work(url))
    code, out, _ = run(capsys, "jobs", "purge", "--store", url, "--older-than", "1d")
    assert (code, out.strip()) == (0, "purged 0 jobs")
    code, out, _ = run(capsys, "jobs", "purge", "--store", url, "--older-than", "0", "--status", "failed")
    assert (code, out.strip()) == (0, "purged 1 job")
    code, out, _ = run(capsys, "jobs", "list", "--store", url, "--json")
    assert {j["id"] for j in json.loads(out)} == {ids["ok"], ids["cancelled"]}
    code, _, err = run(capsys, "jobs", "purge", "--store", url, "--older-than", "0", "--status", "pending")
    assert code == 1 and "only finished jobs can be purged" in err
    code, out, _ = run(
        capsys, "jobs", "purge", "--store", url, "--older-than", "0s", "--status", "succeeded,cancelled"
    )
    assert (code, out.strip()) == (0, "purged 2 jobs")


async def test_app_purge_refuses_bad_arguments() -> None:
    app = App("memory://")
    for kwargs in ({"older_than": -1}, {"older_than": float("nan")}, {"older_than": 1, "statuses": "failed"},
                   {"older_than": 1, "statuses": ["running"]}, {"older_than": 1, "batch": 0}):  # fmt: skip
        with pytest.raises(rota.ConfigError):
            await app.purge(**kwargs)  # type: ignore[arg-type]


async def test_redis_purge_by_status_pages_past_other_statuses(
    redis_harness: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Redis purge looks at one bounded page per script run; kept jobs of other statuses
    must not stop it before the jobs it should delete."""
    from rota._models import Finish, JobStatus, Outcome
    from rota.stores.redis import _jobs
    from rota.testing.conformance._support import add, claim, make_job

    monkeypatch.setattr(_jobs, "PURGE_PAGE", 3)
    h = redis_harness
    jobs = [make_job(h) for _ in range(10)]  # type: ignore[arg-type]
    await add(h, *jobs)  # type: ignore[arg-type]
    claimed = await claim(h, limit=10)  # type: ignore[arg-type]
    finishes = [
        Finish(j.id, j.token, Outcome.SUCCEEDED if n < 7 else Outcome.FAILED) for n, j in enumerate(claimed)
    ]
    store = h.store  # type: ignore[attr-defined]
    assert all(await store.finish(finishes, worker="w", now=h.clock.now()))  # type: ignore[attr-defined]
    await h.clock.advance(1)  # type: ignore[attr-defined]
    now = h.clock.now()  # type: ignore[attr-defined]
    assert await store.purge(finished_before=now, statuses=[JobStatus.FAILED], limit=2) == 2
    assert await store.purge(finished_before=now, statuses=[JobStatus.FAILED]) == 1
    assert await store.purge(finished_before=now) == 7


def test_project_metadata_and_the_all_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["authors"] and project["classifiers"] and project["keywords"]
    assert {"Homepage", "Repository", "Issues"} <= set(project["urls"])
    extras = project["optional-dependencies"]
    [spec] = extras["all"]
    included = set(spec.removeprefix("rota[").removesuffix("]").split(","))
    tooling = {"all", "bench", "dev", "docs"}  # for working on rota itself, not for running it
    assert included == set(extras) - tooling, "rota[all] must include every optional extra"
    metadata = importlib.metadata.metadata("rota")
    assert "Typing :: Typed" in (metadata.get_all("Classifier") or [])
    assert (ROOT / "src" / "rota" / "py.typed").exists()
