"""An app for the CLI tests (``rota ... tests.cli_app:app --store URL``)."""

from __future__ import annotations

from dataclasses import dataclass

from rota import App, RetryPolicy


@dataclass
class Email:
    to: str
    subject: str


app = App("memory://")


@app.task(name="send_email", retry=RetryPolicy(attempts=2))
async def send_email(email: Email) -> None: ...


@app.cron("0 2 * * *", tz="Europe/Berlin", id="nightly")
async def nightly() -> None: ...
