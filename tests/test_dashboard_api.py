"""The dashboard's JSON API over real HTTP (uvicorn on a loopback port, httpx): every
endpoint on every store, bad input as a 4xx JSON error (never a 500), authentication, CSRF,
read-only, the generated OpenAPI schema, mounting, and the ``rota dashboard`` command."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rota._ids import id_floor
from rota._models import Job, JobFilter, JobStatus
from rota.testing import FakeClock
from rota.testing.conformance import Harness
from rota.web import Auth, dashboard_app
from tests.dashboard_data import IDLE_WORKER, TRACE_ID, WORKER, LiveDashboard, make_app, seed, serving

TOKEN = "a-long-enough-test-token"


class Client:
    """httpx on a served dashboard, with the CSRF token of its session."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.csrf = ""

    async def start(self) -> Client:
        session = await self.http.get("/api/v1/session")
        assert session.status_code == 200, session.text
        self.csrf = session.json()["csrf_token"]
        return self

    async def get(self, path: str, **kw: Any) -> Any:
        response = await self.http.get(path, **kw)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    async def act(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = await self.http.request(method, path, json=body, headers={"X-CSRF-Token": self.csrf})
        assert response.status_code == status, (path, response.status_code, response.text)
        return response.json()


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[tuple[Client, Any]]:
    app = make_app(harness.store, harness.clock)
    seeded = await seed(app)
    async with serving(dashboard_app(app)) as url, httpx.AsyncClient(base_url=url) as http:
        yield await Client(http).start(), seeded


async def test_every_endpoint_answers_the_same_on_every_store(
    api: tuple[Client, Any], harness: Harness
) -> None:
    client, seeded = api
    jobs = seeded.jobs
    overview = await client.get("/api/v1/overview")
    queues = {q["queue"]: q for q in overview["queues"]}
    mail = {"pending": 1, "delayed": 0, "running": 1, "succeeded": 1, "failed": 2, "cancelled": 0}
    assert queues["mail"] == {"queue": "mail", **mail}
    assert (queues["reports"]["delayed"], queues["reports"]["cancelled"]) == (1, 1)
    worker, idle = overview["workers"]  # the registered workers, by id, busy or idle
    assert (worker["id"], worker["host"], worker["pid"], worker["running"]) == (WORKER, "host-a", 4242, 1)
    assert (worker["queues"], worker["concurrency"]) == (["mail"], 10)
    assert [j["id"] for j in worker["jobs"]] == [jobs["running"].id]
    assert (idle["id"], idle["host"], idle["running"], idle["jobs"]) == (IDLE_WORKER, "host-c", 0, [])
    if harness.multiprocess:  # a shared store elects a leader: the seeded lease holds it
        assert (overview["leader"]["id"], overview["leader"]["token"]) == (WORKER, 1)

    chart = await client.get("/api/v1/charts/finished", params={"minutes": 5})
    assert len(chart["buckets"]) == 5
    totals = {s: sum(b[s] for b in chart["buckets"]) for s in ("succeeded", "failed", "cancelled")}
    assert totals == {"succeeded": 1, "failed": 2, "cancelled": 1}
    only = await client.get("/api/v1/charts/finished", params={"minutes": 5, "queue": "reports"})
    assert sum(b["cancelled"] + b["failed"] + b["succeeded"] for b in only["buckets"]) == 1

    page = await client.get("/api/v1/jobs")
    assert [j["id"] for j in page["jobs"]] == sorted((j.id for j in jobs.values()), reverse=True)
    assert (page["next_cursor"], page["prev_cursor"]) == (None, None)
    failed = await client.get("/api/v1/jobs", params={"status": "failed", "order": "oldest"})
    assert [j["id"] for j in failed["jobs"]] == sorted([jobs["failed"].id, jobs["xss"].id])
    keyed = await client.get("/api/v1/jobs", params={"key": "order-7"})
    assert [j["id"] for j in keyed["jobs"]] == [jobs["pending"].id]
    by_task = await client.get("/api/v1/jobs", params={"task": "build_report", "queue": "reports"})
    assert {j["id"] for j in by_task["jobs"]} == {jobs["cancelled"].id, jobs["delayed"].id}

    detail = await client.get(f"/api/v1/jobs/{jobs['failed'].id}")
    assert detail["payload"] == {"to": "cy@example.com"}
    assert [(a["number"], a["outcome"], a["worker"]) for a in detail["history"]] == [
        (1, "failed", WORKER), (2, "failed", WORKER),
    ]  # fmt: skip
    assert detail["history"][1]["traceback"].startswith("Traceback")
    assert (detail["progress"], detail["trace_id"]) == (None, None)
    running = await client.get(f"/api/v1/jobs/{jobs['running'].id}")
    assert running["progress"] == {"fraction": 0.25, "message": "page 1 of 4"}
    assert (await client.get(f"/api/v1/jobs/{jobs['delayed'].id}"))["trace_id"] == TRACE_ID
    done = await client.get(f"/api/v1/jobs/{jobs['succeeded'].id}")
    assert (done["result"], done["status"]) == ({"sent": True}, "succeeded")

    schedules = {s["id"]: s for s in await client.get("/api/v1/schedules")}
    assert set(schedules) == {"nightly", "poll", "old"}
    nightly = schedules["nightly"]
    assert nightly["zone"] == "Europe/Berlin"
    assert len(nightly["upcoming"]) == 5
    assert all(f.endswith("02:00:00 CET") for f in nightly["upcoming_local"]), nightly["upcoming_local"]
    assert schedules["old"]["paused"]
    assert schedules["old"]["upcoming"] == []
    assert (await client.get("/api/v1/schedules/poll"))["trigger"] == schedules["poll"]["trigger"]

    leases = await client.get("/api/v1/leases")
    assert [(x["kind"], x["resource"], x["owner"]) for x in leases] == [
        ("leader", "rota-scheduler", WORKER), ("lock", "reports", "host-b:77:def456"),
    ]  # fmt: skip

    # actions: each changes the store as it says
    out = await client.act("POST", f"/api/v1/jobs/{jobs['failed'].id}/retry")
    assert out["status"] == "pending"
    out = await client.act("POST", f"/api/v1/jobs/{jobs['delayed'].id}/cancel")
    assert out["status"] == "cancelled"
    copy = await client.act("POST", f"/api/v1/jobs/{jobs['succeeded'].id}/requeue")
    made = await harness.store.get_job(copy["new_job_id"])
    assert made is not None
    assert (made.status, made.task, made.payload) == (
        JobStatus.PENDING,
        "send_email",
        jobs["succeeded"].payload,
    )
    bulk = await client.act(
        "POST",
        "/api/v1/jobs/bulk",
        {"action": "cancel", "ids": [jobs["pending"].id, jobs["succeeded"].id, "nope"]},
    )
    assert [(r["ok"], r["error"]) for r in bulk["results"]] == [
        (True, None),
        (False, "conflict"),
        (False, "not_found"),
    ]
    assert (await client.act("POST", "/api/v1/schedules/poll/pause"))["status"] == "paused"
    assert (await client.act("POST", "/api/v1/schedules/poll/resume"))["status"] == "active"
    triggered = await client.act("POST", "/api/v1/schedules/nightly/trigger")
    fired = await harness.store.list_jobs(JobFilter(schedule_id="nightly"))
    assert [j.id for j in fired] == [triggered["new_job_id"]]
    assert (await client.act("DELETE", "/api/v1/schedules/old"))["status"] == "removed"
    assert await harness.store.get_schedule("old") is None
    await client.act("DELETE", "/api/v1/schedules/old", status=404)
    statuses = {j.id: j.status for j in await harness.store.list_jobs(JobFilter(limit=100))}
    assert statuses[jobs["failed"].id] is JobStatus.PENDING
    assert statuses[jobs["delayed"].id] is JobStatus.CANCELLED
    assert statuses[jobs["pending"].id] is JobStatus.CANCELLED
    assert statuses[jobs["succeeded"].id] is JobStatus.SUCCEEDED


@pytest.fixture
async def memory_api() -> AsyncIterator[tuple[Client, Any, Any]]:
    from rota.stores.memory import MemoryStore

    app = make_app(MemoryStore(), FakeClock())
    seeded = await seed(app)
    async with serving(dashboard_app(app)) as url, httpx.AsyncClient(base_url=url) as http:
        yield await Client(http).start(), seeded, app


BAD_REQUESTS: list[tuple[str, str, Any, int, str]] = [
    ("GET", "/api/v1/jobs/nope", None, 404, "not_found"),
    ("GET", "/api/v1/jobs?status=exploded", None, 422, "invalid_request"),
    ("GET", "/api/v1/jobs?cursor=not-a-cursor", None, 400, "bad_request"),
    (
        "GET",
        "/api/v1/jobs?cursor=" + base64.urlsafe_b64encode(b'{"id": 5}').decode(),
        None,
        400,
        "bad_request",
    ),
    ("GET", "/api/v1/jobs?limit=0", None, 422, "invalid_request"),
    ("GET", "/api/v1/jobs?limit=100000", None, 422, "invalid_request"),
    ("GET", "/api/v1/jobs?limit=ten", None, 422, "invalid_request"),
    ("GET", "/api/v1/jobs?order=sideways", None, 422, "invalid_request"),
    ("GET", "/api/v1/jobs?since=yesterday", None, 400, "bad_request"),
    ("GET", "/api/v1/jobs?until=99999-01-01", None, 400, "bad_request"),
    ("GET", "/api/v1/jobs?queue=a%00b", None, 400, "bad_request"),
    ("GET", "/api/v1/jobs?task=" + "x" * 201, None, 422, "invalid_request"),
    ("GET", "/api/v1/jobs/" + "x" * 201, None, 422, "invalid_request"),
    ("GET", "/api/v1/charts/finished?minutes=0", None, 422, "invalid_request"),
    ("GET", "/api/v1/charts/finished?minutes=10080&bucket=1", None, 400, "bad_request"),
    ("GET", "/api/v1/schedules/nope", None, 404, "not_found"),
    ("GET", "/api/v1/nothing-here", None, 404, "not_found"),
    ("DELETE", "/api/v1/jobs/x", None, 405, "method_not_allowed"),
    ("POST", "/api/v1/jobs/nope/retry", None, 404, "not_found"),
    ("POST", "/api/v1/jobs/nope/requeue", None, 404, "not_found"),
    ("POST", "/api/v1/jobs/bulk", {"action": "cancel", "ids": []}, 422, "invalid_request"),
    ("POST", "/api/v1/jobs/bulk", {"action": "explode", "ids": ["a"]}, 422, "invalid_request"),
    ("POST", "/api/v1/jobs/bulk", "not an object", 422, "invalid_request"),
    ("POST", "/api/v1/schedules/nope/pause", None, 404, "not_found"),
    ("POST", "/api/v1/schedules/poll/explode", None, 422, "invalid_request"),
]


async def test_bad_input_is_a_4xx_json_error_never_a_500(memory_api: tuple[Client, Any, Any]) -> None:
    client, seeded, _ = memory_api
    done = seeded.jobs["succeeded"].id
    requests = [
        *BAD_REQUESTS,
        ("POST", f"/api/v1/jobs/{done}/retry", None, 409, "conflict"),
        ("POST", f"/api/v1/jobs/{done}/cancel", None, 409, "conflict"),
    ]
    for method, path, body, status, code in requests:
        response = await client.http.request(method, path, json=body, headers={"X-CSRF-Token": client.csrf})
        assert (response.status_code, response.json()["error"]) == (status, code), (
            method,
            path,
            response.text,
        )
        assert response.json()["message"]
        assert response.headers["content-type"] == "application/json"
    # a cursor of one order does not page the other
    page = await client.get("/api/v1/jobs", params={"limit": 2})
    response = await client.http.get(
        "/api/v1/jobs", params={"order": "oldest", "cursor": page["next_cursor"]}
    )
    assert (response.status_code, response.json()["error"]) == (400, "bad_request")


async def test_keyset_pages_walk_every_job_once_either_way(memory_api: tuple[Client, Any, Any]) -> None:
    client, _, app = memory_api
    await app.enqueue_many([app.get_task("send_email").prepare({"n": n}) for n in range(16)])
    every = [j.id for j in await app.store.list_jobs(JobFilter(limit=1000))]
    assert len(every) == 23
    for order, expected in (("newest", every[::-1]), ("oldest", every)):
        seen, pages, cursor = [], [], None
        while True:
            page = await client.get(
                "/api/v1/jobs", params={"order": order, "limit": 5, **({"cursor": cursor} if cursor else {})}
            )
            pages.append(page)
            seen += [j["id"] for j in page["jobs"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert seen == expected
        assert [len(p["jobs"]) for p in pages] == [5, 5, 5, 5, 3]
        assert pages[0]["prev_cursor"] is None
        # and back from the last page to the first, through the prev cursors
        back, page = [], pages[-1]
        while page["prev_cursor"] is not None:
            page = await client.get(
                "/api/v1/jobs", params={"order": order, "limit": 5, "cursor": page["prev_cursor"]}
            )
            back.append([j["id"] for j in page["jobs"]])
        assert back == [[j["id"] for j in p["jobs"]] for p in pages[-2::-1]]


async def test_a_time_range_selects_jobs_by_when_they_were_enqueued(
    memory_api: tuple[Client, Any, Any],
) -> None:
    client, _, app = memory_api
    now = app.clock.now()
    times = [now - timedelta(hours=3), now - timedelta(hours=2), now - timedelta(hours=1)]
    ids = [id_floor(t)[:12] + "7" + f"{n:019x}" for n, t in enumerate(times)]
    await app.store.add([Job(id=i, task="t", queue="timed", due_at=now) for i in ids], now=now)
    since = (now - timedelta(hours=2, minutes=30)).isoformat()
    until = (now - timedelta(minutes=90)).replace(tzinfo=None).isoformat()  # no zone: UTC
    page = await client.get("/api/v1/jobs", params={"queue": "timed", "since": since, "until": until})
    assert [j["id"] for j in page["jobs"]] == [ids[1]]
    page = await client.get("/api/v1/jobs", params={"queue": "timed", "since": since, "order": "oldest"})
    assert [j["id"] for j in page["jobs"]] == ids[1:]


async def test_the_openapi_schema_is_generated_and_covers_every_endpoint(
    memory_api: tuple[Client, Any, Any],
) -> None:
    client, _, _ = memory_api
    schema = await client.get("/api/v1/openapi.json")
    assert schema["info"]["title"] == "rota dashboard API"
    assert set(schema["paths"]) == {
        "/api/v1/session", "/api/v1/overview", "/api/v1/charts/finished", "/api/v1/jobs", "/api/v1/jobs/bulk",
        "/api/v1/jobs/{job_id}", "/api/v1/jobs/{job_id}/retry", "/api/v1/jobs/{job_id}/cancel",
        "/api/v1/jobs/{job_id}/requeue", "/api/v1/schedules", "/api/v1/schedules/{schedule_id}",
        "/api/v1/schedules/{schedule_id}/{action}", "/api/v1/leases",
    }  # fmt: skip
    jobs = schema["paths"]["/api/v1/jobs"]["get"]
    assert {p["name"] for p in jobs["parameters"]} >= {
        "status",
        "queue",
        "task",
        "schedule",
        "key",
        "since",
        "until",
        "cursor",
    }
    assert "JobDetail" in schema["components"]["schemas"]
    assert (await client.http.get("/docs")).status_code == 404  # no docs page loading scripts from a CDN


async def test_actions_need_the_csrf_token_and_a_same_origin(memory_api: tuple[Client, Any, Any]) -> None:
    client, seeded, app = memory_api
    failed = seeded.jobs["failed"].id
    path = f"/api/v1/jobs/{failed}/retry"
    for headers in ({}, {"X-CSRF-Token": "forged"}, {"X-CSRF-Token": client.csrf, "Origin": "https://evil.example"},
                    {"X-CSRF-Token": client.csrf, "Sec-Fetch-Site": "cross-site"}):  # fmt: skip
        response = await client.http.post(path, headers=headers)
        assert (response.status_code, response.json()["error"]) == (403, "csrf"), headers
    assert (await app.get_job(failed)).status is JobStatus.FAILED
    # the page's own origin, with the token: done
    origin = str(client.http.base_url).rstrip("/")
    response = await client.http.post(path, headers={"X-CSRF-Token": client.csrf, "Origin": origin})
    assert response.status_code == 200


async def test_a_dashboard_without_auth_answers_only_loopback_host_names(
    memory_api: tuple[Client, Any, Any],
) -> None:
    client, _, _ = memory_api
    for host in ("evil.example", "rebound.example:80", "10.0.0.1"):
        response = await client.http.get("/api/v1/overview", headers={"Host": host})
        assert (response.status_code, response.json()["error"]) == (403, "forbidden"), host
    for host in ("localhost:8080", "127.0.0.1", "[::1]:9"):
        assert (await client.http.get("/api/v1/overview", headers={"Host": host})).status_code == 200


async def test_token_and_basic_auth() -> None:
    from rota.stores.memory import MemoryStore

    app = make_app(MemoryStore(), FakeClock())
    seeded = await seed(app)
    auth = Auth(token=TOKEN, username="ops", password="pa:ss")
    async with serving(dashboard_app(app, auth=auth)) as url, httpx.AsyncClient(base_url=url) as http:
        wrong = [
            "Bearer wrong",
            "Basic " + _basic("ops", "nope"),
            "Basic !!!",
            "Basic " + _basic("nope", "pa:ss"),
        ]
        for headers in [{}, *({"Authorization": w} for w in wrong)]:
            response = await http.get("/api/v1/overview", headers=headers)
            assert (response.status_code, response.json()["error"]) == (401, "unauthorized"), headers
            assert response.headers["www-authenticate"].startswith("Basic")
        assert (
            await http.get("/", headers={"Host": "evil.example"})
        ).status_code == 401  # auth: any host, with it
        bearer = {"Authorization": f"Bearer {TOKEN}", "Host": "dashboard.example"}
        assert (await http.get("/api/v1/overview", headers=bearer)).status_code == 200
        # a bearer token is no ambient credential: no CSRF token needed
        response = await http.post(f"/api/v1/jobs/{seeded.jobs['failed'].id}/retry", headers=bearer)
        assert response.status_code == 200, response.text
        basic = {"Authorization": "Basic " + _basic("ops", "pa:ss")}
        assert (await http.get("/api/v1/overview", headers=basic)).status_code == 200
        response = await http.post(f"/api/v1/jobs/{seeded.jobs['pending'].id}/cancel", headers=basic)
        assert (response.status_code, response.json()["error"]) == (403, "csrf")  # the browser resends basic
        # ?token= logs a browser in and takes the token out of the address
        response = await http.get(f"/jobs?status=failed&token={TOKEN}")
        assert response.status_code == 303
        assert response.headers["location"] == "/jobs?status=failed"
        assert TOKEN not in response.headers["set-cookie"]
        assert (await http.get("/api/v1/overview")).status_code == 200  # the session cookie


async def test_a_read_only_dashboard_refuses_every_action() -> None:
    from rota.stores.memory import MemoryStore

    app = make_app(MemoryStore(), FakeClock())
    seeded = await seed(app)
    async with serving(dashboard_app(app, read_only=True)) as url, httpx.AsyncClient(base_url=url) as http:
        client = await Client(http).start()
        assert (await client.get("/api/v1/session"))["read_only"]
        job = seeded.jobs["failed"].id
        actions: list[tuple[str, str, Any]] = [
            ("POST", f"/api/v1/jobs/{job}/retry", None),
            ("POST", f"/api/v1/jobs/{job}/cancel", None),
            ("POST", f"/api/v1/jobs/{job}/requeue", None),
            ("POST", "/api/v1/jobs/bulk", {"action": "retry", "ids": [job]}),
            ("POST", "/api/v1/schedules/poll/pause", None),
            ("DELETE", "/api/v1/schedules/poll", None),
        ]
        for method, path, body in actions:
            out = await client.act(method, path, body, status=403)
            assert out["error"] == "read_only"
        assert (await app.get_job(job)).status is JobStatus.FAILED
        assert len(await app.store.list_jobs(JobFilter())) == 7
        assert not (await app.schedules.get("poll")).paused
        assert "data-act" not in (await http.get("/schedules")).text


async def test_the_dashboard_mounts_under_a_path_of_another_app() -> None:
    from fastapi import FastAPI

    from rota.stores.memory import MemoryStore

    app = make_app(MemoryStore(), FakeClock())
    seeded = await seed(app)
    outer = FastAPI()
    outer.mount("/ops/rota", dashboard_app(app, auth=Auth(token=TOKEN)))
    async with serving(outer) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.get(f"/ops/rota/jobs/{seeded.jobs['failed'].id}?token={TOKEN}")
        assert response.headers["location"] == f"/ops/rota/jobs/{seeded.jobs['failed'].id}"
        assert "Path=/ops/rota" in response.headers["set-cookie"]
        page = await http.get(response.headers["location"])
        assert page.status_code == 200
        assert 'href="/ops/rota/static/style.css"' in page.text
        assert '<meta name="rota-base" content="/ops/rota">' in page.text
        assert (await http.get("/ops/rota/static/vendor/uplot/LICENSE")).status_code == 200
        assert (await http.get("/ops/rota/api/v1/leases")).status_code == 200


async def test_pages_carry_a_strict_content_security_policy(memory_api: tuple[Client, Any, Any]) -> None:
    client, seeded, _ = memory_api
    response = await client.http.get(f"/jobs/{seeded.jobs['xss'].id}")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "script-src 'self';" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    # autoescaped: the payload's markup is text in the page's source
    assert "<img src=x" not in response.text
    assert "&lt;img src=x onerror=alert(&#39;xss&#39;)&gt;" in response.text
    assert "<script>alert" not in response.text
    assert "<script" not in response.text.replace('<script type="module" src=', "")


def test_auth_settings_are_checked() -> None:
    from rota import ConfigError

    for bad in (
        {},
        {"token": ""},
        {"token": "  "},
        {"username": "u"},
        {"password": "p"},
        {"username": "a:b", "password": "p"},
    ):
        with pytest.raises(ConfigError):
            Auth(**bad)
    assert Auth.from_env({}) is None
    assert Auth.from_env({"ROTA_DASHBOARD_TOKEN": "t0ken"}) == Auth(token="t0ken")
    both = Auth.from_env({"ROTA_DASHBOARD_USER": "u", "ROTA_DASHBOARD_PASSWORD": "p"})
    assert both == Auth(username="u", password="p")
    with pytest.raises(ConfigError):
        Auth.from_env({"ROTA_DASHBOARD_USER": "u"})
    assert "t0ken" not in repr(Auth(token="t0ken"))
    with pytest.raises(ConfigError):
        dashboard_app("not an app")  # type: ignore[arg-type]


# -- a fuzz of the API: whatever the parameters, never a 500 ------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
_NAMES = [
    "status",
    "queue",
    "task",
    "schedule",
    "key",
    "since",
    "until",
    "order",
    "limit",
    "cursor",
    "minutes",
    "bucket",
    "id",
]
_VALUES = st.one_of(
    _TEXT, st.integers(-10, 10**7).map(str), st.sampled_from(["failed", "oldest", "2030-01-01"])
)
_PARAMS = st.dictionaries(st.sampled_from(_NAMES), _VALUES, max_size=5)


@pytest.fixture(scope="module")
def fuzz_http() -> Any:
    with LiveDashboard() as board, httpx.Client(base_url=board.url) as http:
        yield http


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=_PARAMS, segment=_TEXT)
def test_the_api_never_answers_bad_input_with_a_500(
    fuzz_http: Any, params: dict[str, str], segment: str
) -> None:
    for path in ("/api/v1/jobs", "/api/v1/charts/finished", "/jobs"):
        response = fuzz_http.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text)
        if response.status_code >= 400 and path.startswith("/api"):
            assert response.json()["error"]
    response = fuzz_http.get("/api/v1/jobs/" + quote(segment, safe=""))
    assert response.status_code < 500, (segment, response.text)


# -- the command ------------------------------------------------------------------------------------


def _rota(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rota", *args], check=False, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_the_command_refuses_another_host_without_auth_and_a_taken_port() -> None:
    env = {"ROTA_DASHBOARD_TOKEN": "", "ROTA_DASHBOARD_USER": "", "ROTA_DASHBOARD_PASSWORD": ""}
    done = _rota("dashboard", "--store", "memory://", "--host", "0.0.0.0", env=env)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "refusing to listen on 0.0.0.0 without authentication" in done.stderr
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _rota("dashboard", "--store", "memory://", "--port", str(port))
    assert done.returncode == 1
    assert done.stderr.startswith(f"rota: error: cannot listen on 127.0.0.1:{port}")
    assert done.stderr.count("\n") == 1


def test_the_command_serves_a_store_until_sigterm(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'rota.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "rota", "dashboard", "--store", url, "--port", "0", "--read-only"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    with proc:
        _serve_then_stop(proc)


def _serve_then_stop(proc: subprocess.Popen[str]) -> None:
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("rota dashboard (read-only): http://127.0.0.1:"), line
        base = line.split()[3]
        with httpx.Client(base_url=base, timeout=10) as http:
            overview = http.get("/api/v1/overview").json()
            assert overview["read_only"] is True
            assert overview["store"].startswith("sqlite")
            assert http.get("/").status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _basic(user: str, password: str) -> str:
    return base64.b64encode(f"{user}:{password}".encode()).decode()
