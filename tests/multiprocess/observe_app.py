"""The app of the observability tests' worker processes (``rota worker
tests.multiprocess.observe_app:app``): tasks with known outcomes.

``obs.ok`` succeeds; ``obs.flaky`` fails its first attempt and succeeds on its second;
``obs.doomed`` always fails; ``obs.block`` blocks the event loop for its payload's seconds (a
blocking call in an ``async def``: what a liveness probe must notice). Retries are due at
once (``base=0``). The tests enqueue a task this app does not have, too.
"""

from __future__ import annotations

import time

from rota import App, RetryPolicy

app = App()  # ROTA_STORE_URL from the test

NOW = RetryPolicy(attempts=3, base=0)
_attempts: dict[int, int] = {}


@app.task(name="obs.ok")
async def ok(n: int) -> int:
    return n


@app.task(name="obs.flaky", retry=NOW)
async def flaky(n: int) -> int:
    _attempts[n] = _attempts.get(n, 0) + 1
    if _attempts[n] == 1:
        raise RuntimeError(f"flaky {n}: first attempt")
    return n


@app.task(name="obs.doomed", retry=NOW)
async def doomed(n: int) -> None:
    raise ValueError(f"doomed {n}")


@app.task(name="obs.block")
async def block(seconds: float) -> None:
    time.sleep(seconds)  # noqa: ASYNC251 - blocking the loop is the point
