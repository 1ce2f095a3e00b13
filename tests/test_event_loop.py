"""The event loop of rota's own processes (``rota._loop``): uvloop where installed, asyncio on
request, a clear error for anything else; the worker's whole job life cycle on uvloop; the
real ``rota worker`` process on each loop."""

from __future__ import annotations

import asyncio
import inspect
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest

from rota import App, ConfigError, JobStatus, RetryPolicy, _loop
from rota.stores.sqlite import SQLiteStore

uvloop = pytest.importorskip("uvloop")  # a dependency wherever CPython runs outside Windows

ROOT = Path(__file__).resolve().parent.parent


def test_choice_is_explicit_then_environment_then_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_loop.ENV, raising=False)
    assert _loop.choice() == "auto"
    monkeypatch.setenv(_loop.ENV, "")
    assert _loop.choice() == "auto"  # empty counts as unset
    monkeypatch.setenv(_loop.ENV, " AsyncIO ")
    assert _loop.choice() == "asyncio"
    assert _loop.choice("uvloop") == "uvloop"  # the flag beats the variable


@pytest.mark.parametrize("bad", ["tokio", "uv loop", "1", "true", "asyncio\x00", "x" * 10_000])
def test_a_bad_choice_is_a_config_error_naming_its_source(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    if "\x00" not in bad:  # an environment cannot hold a NUL
        monkeypatch.setenv(_loop.ENV, bad)
        with pytest.raises(ConfigError, match=f"^{_loop.ENV}=.* is not one of auto, uvloop, asyncio"):
            _loop.choice()
        monkeypatch.delenv(_loop.ENV)
    with pytest.raises(ConfigError, match=r"^--event-loop="):
        _loop.choice(bad)


def test_factories(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_loop.ENV, raising=False)
    assert _loop.loop_factory("asyncio") is None
    assert _loop.loop_factory() is uvloop.new_event_loop
    assert _loop.loop_factory("uvloop") is uvloop.new_event_loop
    monkeypatch.setitem(sys.modules, "uvloop", None)  # as if it were not installed
    assert _loop.loop_factory("auto") is None
    with pytest.raises(ConfigError, match="uvloop is not installed"):
        _loop.loop_factory("uvloop")


def test_run_uses_the_chosen_loop_and_closes_a_refused_coroutine() -> None:
    async def which() -> str:
        return _loop.loop_name(asyncio.get_running_loop())

    assert _loop.run(which(), loop="uvloop") == "uvloop"
    assert _loop.run(which(), loop="asyncio") == "asyncio"
    refused = which()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine was never awaited" would be an error here
        with pytest.raises(ConfigError):
            _loop.run(refused, loop="nope")
    assert inspect.getcoroutinestate(refused) == inspect.CORO_CLOSED


def test_the_worker_life_cycle_on_uvloop(tmp_path: Path) -> None:
    """Async and ``def`` handlers, a retry, a timeout and a failure, on a real SQLite store
    (whose calls hop to its own thread and back: call_soon_threadsafe on uvloop)."""

    async def scenario() -> dict[str, JobStatus]:
        assert _loop.loop_name(asyncio.get_running_loop()) == "uvloop"
        app = App(store=SQLiteStore(str(tmp_path / "uv.db")))
        tries: list[int] = []

        @app.task
        async def double(n: int) -> int:
            await asyncio.sleep(0)
            return n * 2

        @app.task
        def blocking(n: int) -> int:
            return n + 1

        @app.task(retry=RetryPolicy(attempts=2, backoff="fixed", base=0.01))
        async def flaky() -> str:
            tries.append(1)
            if len(tries) == 1:
                raise RuntimeError("first attempt fails")
            return "ok"

        @app.task(timeout=0.05, retry=RetryPolicy(attempts=1))
        async def hangs() -> None:
            await asyncio.Event().wait()

        @app.task(retry=RetryPolicy(attempts=1))
        def raises() -> None:
            raise ValueError("bad")

        jobs = {
            "double": await double.enqueue(21),
            "blocking": await blocking.enqueue(1),
            "flaky": await flaky.enqueue(),
            "hangs": await hangs.enqueue(),
            "raises": await raises.enqueue(),
        }
        try:
            async with app.worker(concurrency=4):
                await app.wait_until_idle(timeout=20)
            done = {name: await app.get_job(job.id) for name, job in jobs.items()}
        finally:
            await app.close()
        assert done["double"] is not None and done["double"].result == b"42"
        assert done["blocking"] is not None and done["blocking"].result == b"2"
        return {name: job.status for name, job in done.items() if job is not None}

    statuses = _loop.run(scenario(), loop="uvloop")
    assert statuses == {
        "double": JobStatus.SUCCEEDED, "blocking": JobStatus.SUCCEEDED, "flaky": JobStatus.SUCCEEDED,
        "hangs": JobStatus.FAILED, "raises": JobStatus.FAILED,
    }  # fmt: skip


@pytest.mark.skipif(sys.version_info < (3, 12), reason="eager tasks are Python 3.12+")
@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_eager_tasks_on_either_loop(loop: str) -> None:
    """``rota worker`` installs eager tasks on the loop it runs on. Regression: on Python
    3.13 uvloop's create_task passes the factory ``eager_start``, which asyncio's own
    eager factory refused: every ``rota worker`` failed at its first task."""
    from rota.cli.worker import use_eager_tasks

    async def scenario() -> tuple[bool, bool, int]:
        use_eager_tasks(asyncio.get_running_loop())

        async def quick() -> int:
            return 42

        async def waits() -> None:
            await asyncio.sleep(0)

        eager = asyncio.get_running_loop().create_task(quick())
        lazy = asyncio.get_running_loop().create_task(waits())
        first = (eager.done(), lazy.done())  # the first ran to its end inside create_task
        await lazy
        return (*first, eager.result())

    assert _loop.run(scenario(), loop=loop) == (True, False, 42)


APP = textwrap.dedent(
    """
    import asyncio, os
    from rota import App, _loop
    app = App(os.environ["LOOP_TEST_URL"])

    @app.task(name="which")
    async def which() -> None:
        print("LOOP", _loop.loop_name(asyncio.get_running_loop()), flush=True)
    """
)


@pytest.mark.parametrize(("env", "flag", "expected"), [
    ({}, [], "uvloop"),
    ({"ROTA_EVENT_LOOP": "asyncio"}, [], "asyncio"),
    ({"ROTA_EVENT_LOOP": "asyncio"}, ["--event-loop", "uvloop"], "uvloop"),
])  # fmt: skip
def test_rota_worker_runs_on_the_chosen_loop(
    tmp_path: Path, env: dict[str, str], flag: list[str], expected: str
) -> None:
    (tmp_path / "loopapp.py").write_text(APP)
    url = f"sqlite:///{tmp_path / 'loop.db'}"
    base = {"PATH": "/usr/bin:/bin", "LOOP_TEST_URL": url, "PYTHONPATH": f"{tmp_path}:{ROOT / 'src'}"}
    environ = {**base, **env}
    queued = subprocess.run(
        [sys.executable, "-m", "rota", "enqueue", "loopapp:app", "which"],
        cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert queued.returncode == 0, queued.stderr
    proc = subprocess.Popen(
        [sys.executable, "-m", "rota", "-v", *flag, "worker", "loopapp:app"],
        cwd=tmp_path, env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the handler's line: no sleeping
        assert line.split() == ["LOOP", expected]
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"{expected} event loop" in err  # the start line says what it runs on


def test_rota_refuses_a_bad_loop_in_one_line(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT / "src"), "ROTA_EVENT_LOOP": "tokio"}
    proc = subprocess.run(
        [sys.executable, "-m", "rota", "jobs", "list", "--store", f"sqlite:///{tmp_path / 'x.db'}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.strip() == "rota: error: ROTA_EVENT_LOOP='tokio' is not one of auto, uvloop, asyncio"
