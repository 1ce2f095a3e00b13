"""Every python snippet of README.md runs as written, in order, in one namespace (later
snippets use what earlier ones define), against a temporary SQLite store and with a worker
running, as the README tells its reader to run one. Snippets with a top-level ``await`` run
on the event loop; the others run in a thread, as the sync code they stand for would."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rota import App
from rota.runtime.leader import LeaderElection
from tests.multiprocess._procs import ROOT

README = ROOT / "README.md"
SNIPPET = re.compile(r"^```python\n(.*?)^```", re.MULTILINE | re.DOTALL)


def snippets() -> list[tuple[int, str]]:
    """(line number, code) of each python block of README.md."""
    text = README.read_text("utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(1)) for m in SNIPPET.finditer(text)]


def test_readme_has_the_snippets_this_test_runs() -> None:
    found = [code for _, code in snippets()]
    assert len(found) >= 7
    assert any("app.schedules.pause" in code for code in found)


@pytest.fixture
async def readme_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[dict[str, Any]]:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ROTA_STORE_URL", f"sqlite:///{tmp_path / 'readme.db'}")
    namespace: dict[str, Any] = {"__name__": "readme"}
    yield namespace
    for value in list(namespace.values()):
        if isinstance(value, LeaderElection):
            await value.stop()
    closer = namespace.get("jobs")
    if closer is not None and hasattr(closer, "close"):
        await asyncio.to_thread(closer.close)


async def test_every_readme_snippet_runs_as_written(readme_env: dict[str, Any]) -> None:
    namespace = readme_env
    worker = None
    try:
        for line, code in snippets():
            compiled = compile(
                code, f"README.md:{line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True
            )
            before = namespace.get("main")
            if compiled.co_flags & inspect.CO_COROUTINE:
                await asyncio.wait_for(eval(compiled, namespace), 30)
            else:
                await asyncio.to_thread(exec, compiled, namespace)
            main = namespace.get("main")
            if main is not None and main is not before:
                await asyncio.wait_for(main(), 30)  # what the reader's asyncio.run(main()) does
            app = namespace.get("app")
            if worker is None and isinstance(app, App) and app.tasks:
                # "Run a worker": one serves the README app's queues while the rest runs
                worker = app.worker(queues=["default", "mail"], concurrency=4)
                await worker.start()
    finally:
        if worker is not None:
            await worker.shutdown()
    assert namespace["info"].id == "report"  # the schedules snippet read its schedule back
