"""Take the README's screenshot of the dashboard's overview (docs/dashboard.png).

A demo store (in memory, on a fake clock): the tests' seeded jobs, schedules and leases, then
45 minutes of work with a few failures so that the charts have something to draw. Served by
uvicorn on a loopback port and shot with Playwright driving the system's Chromium.

    .venv/bin/python scripts/dashboard_screenshot.py [docs/dashboard.png]
"""

from __future__ import annotations

import shutil
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.dashboard_data import LiveDashboard  # noqa: E402
from tests.test_dashboard_browser import CHROMIUM_FLAGS  # noqa: E402

from rota import App  # noqa: E402
from rota._models import ErrorInfo, Finish, Outcome  # noqa: E402


async def history(app: App) -> None:
    """45 minutes of jobs: each minute some succeed and now and then one fails."""
    store, clock = app.store, app.clock
    mail, report = app.get_task("send_email"), app.get_task("build_report")
    for minute in range(45):
        specs = [mail.prepare({"to": f"user{minute}-{n}@example.com"}) for n in range(8 + minute % 7 * 3)]
        specs += [report.prepare({"day": f"d{minute}-{n}"}) for n in range(2 + minute % 3)]
        await app.enqueue_many(specs)
        now = clock.now()
        claimed = await store.claim(queues=["mail", "reports"], worker="host-a:4242:abc123", limit=100,
                                    lease_for=timedelta(seconds=30), now=now)  # fmt: skip
        outcomes = []
        for n, job in enumerate(claimed):
            failed = (n + minute) % (11 if minute < 30 else 5) == 0
            error = ErrorInfo("SMTPError", "mailbox full") if failed else None
            outcomes.append(
                Finish(job.id, job.token, Outcome.FAILED if failed else Outcome.SUCCEEDED, error=error)
            )
        await store.finish(outcomes, worker="host-a:4242:abc123", now=now)
        await clock.advance(60)
    await app.enqueue_many([mail.prepare({"to": f"late{n}@example.com"}) for n in range(5)])
    await store.claim(queues=["mail"], worker="host-b:77:def456", limit=3, lease_for=timedelta(hours=1),
                      now=clock.now())  # fmt: skip
    await store.acquire_lease("leader:rota-scheduler", owner="host-a:4242:abc123", ttl=timedelta(seconds=30),
                              now=clock.now())  # fmt: skip


def main() -> None:
    from playwright.sync_api import sync_playwright

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "dashboard.png"
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("no chromium on PATH (apt-get install chromium)")
    with LiveDashboard() as board, sync_playwright() as pw:
        board.call(history)
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(board.url + "/")
        page.wait_for_selector("body[data-ready]")
        page.screenshot(path=str(out), full_page=True)
        browser.close()
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
