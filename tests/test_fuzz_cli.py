"""Fuzzing the ``rota`` command line with generated arguments (issue #11).

The property: exit code 0, or exit code 1 with exactly one line ``rota: error: ...`` on stderr
that is a rota error (never "unexpected error", never a traceback); after a refusal the store
(a SQLite file, read directly) holds exactly what it held before. Commands run in-process
through ``rota.cli.main``; ``rota worker`` runs with its loop stubbed out (its flags and
validation are what is fuzzed). The number of inputs tried is printed at the end.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota import App, Every
from rota.cli import main
from rota.runtime.worker import Worker
from tests.fuzz.values import TRIED, print_tried

APP = "tests.cli_app:app"
# ROTA_FUZZ_EXAMPLES=5000 for a deeper run than the one make test does
EXAMPLES = int(os.environ.get("ROTA_FUZZ_EXAMPLES", "250"))

EDGE_ARGS = [
    "nan", "NaN", "inf", "-inf", "-1", "0", "1", "1.5", "1e309", "-1e309", "1" * 400, "0x10", "1_000",
    "", " ", "\x00", "a\x00b", "\udcff", "[/x]", "x" * 201, "2030-01-01T00:00:00",
    "2030-01-01T00:00:00+00:00",
    "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+05:00", "1969-12-31T23:59:59+00:00", "7d", "1m30s",
    "-5s", "failed", "pending", "succeeded,failed", ",", "default", "mail,default", "send_email", "true",
    '{"to": "a@x.org", "subject": "hi"}', '{"to": 1}', "null", "{", '"\\ud800"', "--json", "-v",
]  # fmt: skip

args = st.one_of(
    st.sampled_from(EDGE_ARGS),
    st.text(max_size=12),
    st.text(st.characters(codec=None, categories=None), max_size=6),
)


@pytest.fixture(scope="module", autouse=True)
def report(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    print_tried(request, "cli", "CLI fuzz")


class Store:
    """The SQLite file the commands run against, seeded with jobs and a schedule."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.url = f"sqlite:///{path}"

        self.job_ids = asyncio.run(self._seed())

    async def _seed(self) -> list[str]:
        app = App(self.url)

        @app.task(name="send_email")
        async def send_email(payload: dict[str, str]) -> None: ...

        @app.task(name="tick")
        async def tick() -> None: ...

        jobs = [await send_email.enqueue({"to": "a", "subject": "b"}) for _ in range(3)]
        await app.cancel(jobs[0].id)
        await app.schedules.add("nightly", task=tick, trigger=Every(3600))
        await app.close()
        return [j.id for j in jobs]

    def restore_schedule(self) -> None:
        """Put back the schedule a previous example removed, so lookups keep finding one."""
        with closing(sqlite3.connect(self.path)) as conn, conn:
            if conn.execute("SELECT 1 FROM schedules WHERE id = 'nightly'").fetchone():
                return

        async def add() -> None:
            app = App(self.url)

            @app.task(name="tick")
            async def tick() -> None: ...

            await app.schedules.add("nightly", task=tick, trigger=Every(3600))
            await app.close()

        asyncio.run(add())

    def snapshot(self) -> tuple[Any, ...]:
        with closing(sqlite3.connect(self.path)) as conn, conn:
            jobs = conn.execute("SELECT id, status, attempts, due_at FROM jobs ORDER BY id").fetchall()
            schedules = conn.execute("SELECT id, version, paused FROM schedules ORDER BY id").fetchall()
        return tuple(jobs), tuple(schedules)


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    async def no_loop(self: Worker) -> None:
        return None

    monkeypatch.setattr(Worker, "run", no_loop)  # `rota worker` validates and returns
    return Store(tmp_path / "fuzz.db")


def mostly(valid: st.SearchStrategy[Any], bad: st.SearchStrategy[Any] = args) -> st.SearchStrategy[Any]:
    """A valid value three times in four, so accepted commands reach the store too."""
    return st.integers(0, 3).flatmap(lambda n: bad if n == 0 else valid)


def number(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(str)


VALID = {
    "--delay": number(0, 10**6),
    "--priority": number(-(2**31), 2**31 - 1),
    "--limit": number(1, 10_000),
    "--at": st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(9998, 1, 1), timezones=st.just(UTC)
    ).map(datetime.isoformat),
    "--key": st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=1, max_size=50),
    "--queue": st.sampled_from(["default", "mail"]),
    "-q": st.sampled_from(["default", "mail,default"]),
    "--task": st.sampled_from(["send_email", "tick"]),
    "--status": st.sampled_from(["pending", "running", "succeeded", "failed", "cancelled"]),
    "--older-than": st.sampled_from(["0", "1s", "7d", "1h30m", "3600"]),
    "-c": number(1, 100),
    "--claim-batch": number(1, 500),
    "--lease": number(1, 600),
    "--grace": number(0, 60),
}
FLAGS = {"--json", "--no-scheduler"}


def options(*names: str) -> st.SearchStrategy[list[str]]:
    """Some of the flags ``names``, each with a generated value (none for a plain flag)."""

    def flag(name: str) -> st.SearchStrategy[list[str]]:
        if name in FLAGS:
            return st.just([name])
        return mostly(VALID[name]).map(lambda value: [name, value])

    chosen = st.lists(st.sampled_from(names), max_size=4, unique=True)
    return chosen.flatmap(lambda ns: st.tuples(*(flag(n) for n in ns))).map(
        lambda fs: [x for f in fs for x in f]
    )


def commands(store: Store) -> st.SearchStrategy[list[str]]:
    ids = mostly(st.sampled_from(store.job_ids))
    schedule_ids = mostly(st.just("nightly"))
    payloads = mostly(st.sampled_from(['{"to": "a@x.org", "subject": "hi"}', '{"to": "b", "subject": ""}']))
    return st.one_of(
        st.tuples(
            st.just(["enqueue", APP]),
            st.tuples(mostly(st.just("send_email")), payloads).map(list),
            options("--delay", "--at", "--key", "--priority", "--queue"),
        ),
        st.tuples(
            st.just(["jobs", "list"]),
            st.just([]),
            options("--status", "--queue", "--task", "--limit", "--json"),
        ),
        st.tuples(
            st.sampled_from([["jobs", "show"], ["jobs", "cancel"], ["jobs", "retry"]]),
            ids.map(lambda i: [i]),
            options("--json"),
        ),
        st.tuples(st.just(["jobs", "purge"]), st.just([]), options("--older-than", "--status")),
        st.tuples(
            st.sampled_from([["schedules", a] for a in ("pause", "resume", "remove", "trigger-now")]),
            schedule_ids.map(lambda i: [i]),
            st.just([]),
        ),
        st.tuples(
            st.just(["schedules", "show"]),
            schedule_ids.map(lambda i: [i]),
            options("--json"),
        ),
        st.tuples(st.just(["schedules", "list"]), st.just([]), options("--json")),
        st.tuples(
            st.just(["worker", APP]),
            st.just([]),
            options("-c", "-q", "--claim-batch", "--lease", "--grace", "--no-scheduler"),
        ),
    ).map(lambda parts: [*parts[0], *parts[1], *parts[2]])


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    log=st.sampled_from([[], [], [], ["-v"], ["-vv"], ["--log-level", "error"], ["--log-level", "x"]]),
)
def test_the_command_line_answers_in_one_line_and_writes_nothing_on_refusal(
    store: Store, capsys: pytest.CaptureFixture[str], data: st.DataObject, log: list[str]
) -> None:
    argv = data.draw(commands(store))
    argv = [*argv, "--store", store.url, *log]
    store.restore_schedule()
    before = store.snapshot()
    TRIED["cli " + " ".join(argv[:2] if argv[0] != "enqueue" and argv[0] != "worker" else argv[:1])] += 1
    code = main(argv)
    out, err = capsys.readouterr()
    assert code in (0, 1), (argv, code, err)
    assert "Traceback" not in out + err, argv
    if code == 1:
        TRIED[
            "cli " + " ".join(argv[:2] if argv[0] not in ("enqueue", "worker") else argv[:1]) + ": refused"
        ] += 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rota: error: "), (argv, err)
        assert "unexpected error" not in err, (argv, err)
        assert store.snapshot() == before, ("a refused command wrote to the store", argv, err)
