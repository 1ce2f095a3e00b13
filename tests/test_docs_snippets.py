"""The code on the documentation pages runs as written: Getting started end to end (its files
written out, its commands run, a real worker), the test files of Testing your code under
pytest, and rota's side of every Migrating page (the other libraries' side is compiled: they
are not installed here)."""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rota import App, JobStatus
from tests.multiprocess._procs import ROOT
from tests.test_examples import DEADLINE, Proc

DOCS = ROOT / "docs"
BLOCK = re.compile(r'^```python title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)


def titled_blocks(page: str) -> list[tuple[str, str]]:
    """(title, code) of every ``python title="..."`` block of a docs page, in order."""
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer((DOCS / page).read_text("utf-8"))]


def write_files(page: str, directory: Path) -> list[str]:
    """Write the page's titled blocks as files; "x.py (continued)" is appended to x.py."""
    written = []
    for title, code in titled_blocks(page):
        name, _, rest = title.partition(" ")
        assert rest in ("", "(continued)"), title
        with (directory / name).open("a" if rest else "w", encoding="utf-8") as f:
            f.write(("\n\n" if rest else "") + code)
        written.append(name)
    return written


def clean_env(directory: Path) -> dict[str, str]:
    """The environment of a user in ``directory``: no store chosen, so ./rota.db it is."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROTA_")}
    return {**env, "PYTHONPATH": str(directory), "PYTHONUNBUFFERED": "1"}


def shell(command: str, *, cwd: Path, env: dict[str, str], page: str) -> str:
    """Run a command exactly as the page shows it (checked), with this interpreter's rota."""
    assert command in (DOCS / page).read_text("utf-8"), f"{command!r} is not on {page}"
    args = command.split(maxsplit=1)
    program = [sys.executable, "-m", "rota.cli"] if args[0] == "rota" else [sys.executable]
    done = subprocess.run(
        [*program, *shlex.split(args[1])], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=DEADLINE, check=False,
    )  # fmt: skip
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


# -- Getting started ------------------------------------------------------------------------


@pytest.mark.slow
def test_getting_started_runs_as_written(tmp_path: Path) -> None:
    page = "getting-started.md"
    assert write_files(page, tmp_path) == ["tasks.py", "enqueue.py", "tasks.py"]
    env = clean_env(tmp_path)

    queued = shell("python enqueue.py", cwd=tmp_path, env=env, page=page)
    assert re.fullmatch(r"queued \w+\n", queued), queued
    assert (tmp_path / "rota.db").exists()
    shell(
        """rota enqueue tasks:app tasks.send_welcome '{"user_id": 44, "email": "eve@example.com"}'""",
        cwd=tmp_path, env=env, page=page,
    )  # fmt: skip

    worker = Proc(["-m", "rota.cli", "worker", "tasks:app"], cwd=tmp_path, env=env)
    try:
        seen = {worker.expect(r"^welcome email to (\S+)$").group(1) for _ in range(2)}
        assert seen == {"ada@example.com", "eve@example.com"}
        worker.expect(r"^polling the inbox$")  # the interval schedule fires (every 10 s)

        listing = shell("rota schedules list --app tasks:app", cwd=tmp_path, env=env, page=page)
        assert "daily-digest" in listing and "poll-inbox" in listing
        shell("rota schedules pause poll-inbox --app tasks:app", cwd=tmp_path, env=env, page=page)
        shell("rota schedules resume poll-inbox --app tasks:app", cwd=tmp_path, env=env, page=page)
        jobs = shell("rota jobs list", cwd=tmp_path, env=env, page=page)
        assert "succeeded" in jobs and "pending" in jobs  # bob's job is due in 30 s
        shell("rota status", cwd=tmp_path, env=env, page=page)
        assert worker.stop(signal.SIGTERM) == 0
    finally:
        worker.kill()


# -- Testing your code ----------------------------------------------------------------------


def test_the_testing_pages_test_files_pass_under_pytest(tmp_path: Path) -> None:
    files = write_files("testing.md", tmp_path)
    assert files == ["test_handler.py", "test_retries.py", "test_my_store.py"]
    # a user's project of its own: no configuration of ours (strict asyncio mode, -W error)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "error",
         "-o", "asyncio_default_fixture_loop_scope=function", *files],
        cwd=tmp_path, env=clean_env(tmp_path), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    summary = done.stdout.strip().splitlines()[-1]
    passed = int(re.match(r"(\d+) passed", summary).group(1))  # type: ignore[union-attr]
    assert passed > 90 and "skipped" not in summary, summary  # 3 of ours + the whole suite


# -- Migrating ------------------------------------------------------------------------------

MIGRATING = sorted(p.name for p in (DOCS / "migrating").glob("*.md"))


def test_the_migrating_pages_are_the_four_libraries() -> None:
    assert MIGRATING == ["apscheduler.md", "arq.md", "celery.md", "rq.md"]


@pytest.mark.parametrize("name", MIGRATING, ids=lambda n: n.removesuffix(".md"))
def test_the_other_librarys_side_compiles(name: str) -> None:
    theirs = [(title, code) for title, code in titled_blocks(f"migrating/{name}") if title != "rota"]
    assert theirs, name
    for title, code in theirs:
        compile(code, f"{name}:{title}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)


@pytest.mark.parametrize("name", MIGRATING, ids=lambda n: n.removesuffix(".md"))
async def test_rotas_side_runs_and_its_jobs_succeed(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rota's blocks run in order in one namespace (like one module), against a fresh SQLite
    store; then a worker runs every job they queued, which must succeed."""
    ours = [code for title, code in titled_blocks(f"migrating/{name}") if title == "rota"]
    assert ours, name
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROTA_STORE_URL", f"sqlite:///{tmp_path / 'rota.db'}")
    namespace: dict[str, Any] = {"__name__": "tasks"}
    for n, code in enumerate(ours):
        compiled = compile(
            code, f"{name}:rota#{n}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
        )
        if compiled.co_flags & inspect.CO_COROUTINE:
            await asyncio.wait_for(eval(compiled, namespace), DEADLINE)
        else:
            exec(compiled, namespace)
    app = namespace["app"]
    assert isinstance(app, App) and app.tasks
    try:
        worker = app.worker(queues=list(app.queues))
        async with worker:
            await app.wait_until_idle(timeout=DEADLINE)
        now = app.clock.now()
        jobs = await app.list_jobs()
        stored = {info.id for info in await app.schedules.list()}
        assert set(app.declared_schedules) <= stored
        assert jobs or stored, "the snippets queue jobs or make schedules"
        for job in jobs:  # what was due ran once and succeeded; the rest waits, untouched
            assert job.due_at is not None and job.last_error is None, (job.task, job.last_error)
            expected = JobStatus.SUCCEEDED if job.due_at <= now else JobStatus.PENDING
            assert (job.status, job.attempts) == (expected, int(expected is JobStatus.SUCCEEDED)), job
    finally:
        await app.close()
