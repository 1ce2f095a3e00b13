"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright.

Each test serves a dashboard over a seeded memory store (tests/dashboard_data.py) from a
thread of its own, loads its pages in one browser shared by the session, and checks what a
person would see and what the store holds after they act. Screenshots of every page go to the
test's tmp_path. Without Chromium (or Playwright) the tests skip, and fail under
ROTA_REQUIRE_BACKENDS=all (scripts/install-servers.sh installs the ``chromium`` package).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rota._models import JobFilter, JobStatus
from rota.web import Auth
from tests.dashboard_data import IDLE_WORKER, TRACE_ID, WORKER, XSS_HTML, XSS_SCRIPT, LiveDashboard
from tests.servers._common import unavailable

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
TOKEN = "s3cret-token-for-tests"
TIMEOUT_MS = 10_000


def chromium_path() -> str | None:
    return os.environ.get("ROTA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


# One browser for the module (the only one that drives it), not the session: Playwright's
# blocking API keeps an event loop running in this thread while it is open, and the async
# tests after this module need the thread's loop free.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = chromium_path()
    if path is None:
        unavailable("chromium", "no chromium on PATH (apt-get install chromium)")
    if importlib.util.find_spec("playwright") is None:
        unavailable("chromium", "the playwright package is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


class Page:
    """A browser page on one dashboard, recording every dialog (an XSS would raise one)."""

    def __init__(self, browser: Any, board: LiveDashboard, shots: Path, **context: Any) -> None:
        self.board = board
        self.shots = shots
        self.context = browser.new_context(**{"viewport": {"width": 1280, "height": 900}, **context})
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []

        def dialog(d: Any) -> None:
            self.dialogs.append(f"{d.type}: {d.message}")
            if d.type == "confirm":
                d.accept()
            else:
                d.dismiss()

        self.page.on("dialog", dialog)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def open(self, path: str, *, ready: bool = True) -> Any:
        response = self.page.goto(self.board.url + path)
        if ready:
            self.page.wait_for_selector("body[data-ready]")
        return response

    def refreshed(self) -> None:
        """Have the page refresh itself from the API now (as its timer does), and wait for it."""
        before = self.page.evaluate("() => Number(document.body.dataset.refreshed || 0)")
        self.page.evaluate("() => document.dispatchEvent(new Event('rota-refresh'))")
        self.page.wait_for_function(f"() => Number(document.body.dataset.refreshed || 0) > {before}")

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        assert path.stat().st_size > 5000
        return path

    def api(self, method: str, path: str, body: Any = None, *, csrf: bool = True) -> tuple[int, Any]:
        """A fetch from the page itself (its cookies, its origin), as the page's script does."""
        result: list[Any] = self.page.evaluate(
            """async ([method, path, body, csrf]) => {
                const token = document.querySelector('meta[name="rota-csrf"]').content;
                const headers = {"Content-Type": "application/json"};
                if (csrf) headers["X-CSRF-Token"] = token;
                const sent = body === null ? undefined : JSON.stringify(body);
                const r = await fetch(path, {method, headers, body: sent});
                return [r.status, await r.json()];
            }""",
            [method, path, body, csrf],
        )
        return result[0], result[1]

    def close(self) -> None:
        assert self.errors == [], self.errors
        self.context.close()


@pytest.fixture
def board() -> Iterator[LiveDashboard]:
    with LiveDashboard() as b:
        yield b


@pytest.fixture
def page(browser: Any, board: LiveDashboard, tmp_path: Path) -> Iterator[Page]:
    p = Page(browser, board, tmp_path)
    yield p
    p.close()


def stored(board: LiveDashboard, job_id: str) -> JobStatus:
    job = board.call(lambda app: app.get_job(job_id))
    return job.status


def test_every_page_shows_the_store(page: Page, board: LiveDashboard) -> None:
    jobs = board.seeded.jobs
    page.open("/")
    queues = page.page.locator("#queues tbody")
    mail = queues.locator("tr", has_text="mail")
    assert mail.locator('[data-f="running"]').inner_text() == "1"
    assert mail.locator('[data-f="failed"]').inner_text() == "2"
    assert mail.locator('[data-f="succeeded"]').inner_text() == "1"
    reports = queues.locator("tr", has_text="reports")
    assert reports.locator('[data-f="delayed"]').inner_text() == "1"
    assert reports.locator('[data-f="cancelled"]').inner_text() == "1"
    workers = page.page.locator("#workers .worker")
    assert workers.locator("h3").all_inner_texts() == [WORKER, IDLE_WORKER]
    assert jobs["running"].id in workers.nth(0).inner_text()
    assert jobs["running"].id not in workers.nth(1).inner_text()
    assert page.page.locator("#chart-throughput canvas").count() == 1
    assert page.page.locator("#chart-failures canvas").count() == 1
    page.shot("overview")

    page.open("/jobs")
    rows = page.page.locator("#jobs tbody tr")
    assert rows.count() == len(jobs)
    assert rows.first.get_attribute("data-id") == max(j.id for j in jobs.values())  # newest first
    page.open("/jobs?status=failed")
    ids = page.page.locator("#jobs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert sorted(ids) == sorted([jobs["failed"].id, jobs["xss"].id])
    page.shot("jobs")
    page.open("/jobs?key=order-7")
    keyed = page.page.locator("#jobs tbody tr").evaluate_all("r => r.map(x => x.dataset.id)")
    assert keyed == [jobs["pending"].id]
    page.open(f"/jobs?id={jobs['succeeded'].id}")  # search by id: its page
    assert page.page.url.endswith(f"/jobs/{jobs['succeeded'].id}")
    assert '"sent": true' in page.page.locator("#result").inner_text()

    page.open(f"/jobs/{jobs['failed'].id}")
    assert page.page.locator("h1 .st").inner_text() == "failed"
    assert json.loads(page.page.locator("#payload").inner_text()) == {"to": "cy@example.com"}
    attempts = page.page.locator("#attempts tbody tr")
    assert attempts.count() == 2
    assert "SMTPError" in attempts.nth(1).inner_text()
    assert attempts.nth(1).locator('[data-f="worker"]').inner_text() == WORKER
    page.shot("job")
    page.open(f"/jobs/{jobs['running'].id}")
    assert page.page.locator('[data-f="progress.message"]').inner_text() == "page 1 of 4"
    assert page.page.locator('progress[data-f="progress.fraction"]').get_attribute("value") == "0.25"
    page.open(f"/jobs/{jobs['delayed'].id}")
    assert page.page.locator('[data-f="trace_id"]').inner_text() == TRACE_ID

    page.open("/schedules")
    nightly = page.page.locator("#schedules tbody tr", has_text="nightly")
    fires = nightly.locator("ul.fires li").all_inner_texts()
    assert len(fires) == 5
    assert all(f.startswith("20") and f.endswith(" CET") and "02:00:00" in f for f in fires), fires
    assert page.page.locator("#schedules tbody tr", has_text="old").locator(".st").inner_text() == "paused"
    page.shot("schedules")

    page.open("/leases")
    leases = page.page.locator("#leases tbody tr")
    assert leases.count() == 2
    assert "reports" in leases.nth(1).inner_text()
    assert "host-b:77:def456" in leases.nth(1).inner_text()
    page.shot("leases")
    assert page.dialogs == []


def test_retry_a_failed_job_and_cancel_a_pending_one_from_the_pages(page: Page, board: LiveDashboard) -> None:
    jobs = board.seeded.jobs
    page.open(f"/jobs/{jobs['failed'].id}")
    page.page.click('button[data-act="retry"]')
    page.page.wait_for_selector('h1 .st:text-is("pending")')
    assert stored(board, jobs["failed"].id) is JobStatus.PENDING
    assert "retry: the job is pending" in page.page.locator("#flash").inner_text()

    page.open("/jobs?status=pending&order=oldest")
    row = page.page.locator(f'#jobs tbody tr[data-id="{jobs["pending"].id}"]')
    row.locator("input.pick").check()
    assert page.page.locator("#picked").inner_text() == "1 selected"
    page.page.click("#bulk-cancel")
    page.page.wait_for_selector("#flash:not([hidden])")
    assert "cancel: 1 done" in page.page.locator("#flash").inner_text()
    assert stored(board, jobs["pending"].id) is JobStatus.CANCELLED
    assert stored(board, jobs["failed"].id) is JobStatus.PENDING  # not selected: untouched
    # an action the store refuses says why, and changes nothing
    page.open(f"/jobs/{jobs['succeeded'].id}")
    page.page.click('button[data-act="cancel"]')
    page.page.wait_for_selector("#flash.bad")
    assert "already succeeded" in page.page.locator("#flash").inner_text()
    assert stored(board, jobs["succeeded"].id) is JobStatus.SUCCEEDED


def test_pause_and_trigger_a_schedule(page: Page, board: LiveDashboard) -> None:
    page.open("/schedules")
    row = page.page.locator('#schedules tbody tr[data-id="poll"]')
    row.locator('button[data-act="pause"]').click()
    page.page.wait_for_selector('#schedules tbody tr[data-id="poll"] .st:text-is("paused")')
    assert board.call(lambda app: app.schedules.get("poll")).paused
    page.page.locator('#schedules tbody tr[data-id="nightly"] button[data-act="trigger"]').click()
    page.page.wait_for_selector('#flash:has-text("nightly: queued job")')
    made = board.call(lambda app: app.store.list_jobs(JobFilter(schedule_id="nightly")))
    assert [j.task for j in made] == ["build_report"]
    assert made[0].status is JobStatus.PENDING
    page.shot("schedules-after")


def test_a_read_only_dashboard_shows_no_action_and_refuses_them(browser: Any, tmp_path: Path) -> None:
    with LiveDashboard(read_only=True) as board:
        p = Page(browser, board, tmp_path)
        failed = board.seeded.jobs["failed"].id
        p.open(f"/jobs/{failed}")
        assert p.page.locator("#read-only").is_visible()
        assert p.page.locator("button[data-act]").count() == 0
        p.open("/schedules")
        assert p.page.locator("button[data-act]").count() == 0
        status, body = p.api("POST", f"/api/v1/jobs/{failed}/retry")
        assert (status, body["error"]) == (403, "read_only")
        status, body = p.api("POST", "/api/v1/schedules/poll/pause")
        assert status == 403
        assert stored(board, failed) is JobStatus.FAILED
        assert not board.call(lambda app: app.schedules.get("poll")).paused
        p.close()


def test_token_auth_refuses_a_request_without_the_token(browser: Any, tmp_path: Path) -> None:
    with LiveDashboard(auth=Auth(token=TOKEN)) as board:
        p = Page(browser, board, tmp_path)
        response = p.open("/", ready=False)
        assert response.status == 401
        assert p.page.locator("#login").is_visible()
        assert p.page.locator("#queues").count() == 0
        status, body = p.api("GET", "/api/v1/overview")
        assert (status, body["error"]) == (401, "unauthorized")
        p.page.fill('input[name="token"]', "wrong")
        p.page.click('#login button[type="submit"]')
        assert p.page.locator("#error").inner_text() == "wrong token"
        p.page.fill('input[name="token"]', TOKEN)
        p.page.click('#login button[type="submit"]')
        p.page.wait_for_selector("#queues")
        p.shot("logged-in")
        # logged in: actions still need the page's CSRF token
        failed = board.seeded.jobs["failed"].id
        status, body = p.api("POST", f"/api/v1/jobs/{failed}/retry", csrf=False)
        assert (status, body["error"]) == (403, "csrf")
        assert stored(board, failed) is JobStatus.FAILED
        status, body = p.api("POST", f"/api/v1/jobs/{failed}/retry")
        assert (status, body["status"]) == (200, "pending")
        p.page.click("#logout-form button")
        assert p.open("/", ready=False).status == 401
        p.close()


def test_markup_in_a_job_is_shown_as_text(page: Page, board: LiveDashboard) -> None:
    xss = board.seeded.jobs["xss"].id
    page.open(f"/jobs/{xss}")
    payload = page.page.locator("#payload")
    assert XSS_HTML in payload.inner_text()
    assert XSS_SCRIPT in payload.inner_text()
    assert page.page.locator("main img").count() == 0
    assert page.page.locator("main script").count() == 0
    assert XSS_HTML in page.page.locator('[data-f="last_error"]').first.inner_text()
    page.page.locator("#attempts details summary").click()
    assert XSS_SCRIPT in page.page.locator("#attempts pre").inner_text()
    # the same text once the script has refreshed the page from the API
    page.refreshed()
    assert XSS_HTML in page.page.locator("#payload").inner_text()
    assert page.page.locator("main img").count() == 0
    page.open("/jobs?status=failed")
    assert XSS_HTML in page.page.locator(f'#jobs tr[data-id="{xss}"]').inner_text()
    page.shot("xss")
    assert page.dialogs == []


def test_pages_follow_the_store_without_a_reload(page: Page, board: LiveDashboard) -> None:
    jobs = board.seeded.jobs
    page.open("/")
    mail = page.page.locator("#queues tbody tr", has_text="mail")
    assert mail.locator('[data-f="pending"]').inner_text() == "1"
    board.call(lambda app: app.cancel(jobs["pending"].id))
    page.refreshed()
    assert mail.locator('[data-f="pending"]').inner_text() == "0"
    page.open(f"/jobs/{jobs['running'].id}")
    board.call(lambda app: app.cancel(jobs["running"].id))
    page.refreshed()
    assert page.page.locator("h1 .st").inner_text() == "cancelled"
    assert page.page.locator("#attempts tbody tr").count() == 1
    assert page.page.locator('#attempts [data-f="outcome"]').inner_text() == "cancelled"
    page.open("/leases")
    board.call(lambda app: app.clock.advance(60))  # every lease expires
    page.refreshed()
    assert page.page.locator("#leases tbody tr.empty").is_visible()


def test_dark_and_light_themes_and_a_phone(browser: Any, board: LiveDashboard, tmp_path: Path) -> None:
    p = Page(browser, board, tmp_path, color_scheme="dark")
    p.open("/")
    background = "() => getComputedStyle(document.body).backgroundColor"
    dark = p.page.evaluate(background)
    p.shot("overview-dark")
    p.page.click("#theme")
    assert p.page.evaluate("() => document.documentElement.dataset.theme") == "light"
    assert p.page.evaluate(background) != dark
    p.close()
    screen = {"width": 390, "height": 844}
    phone = Page(browser, board, tmp_path, viewport=screen, is_mobile=True, has_touch=True)
    phone.open("/")
    width = phone.page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390 + 1  # nothing wider than the screen: tables scroll in their own box
    phone.shot("overview-phone")
    phone.close()
