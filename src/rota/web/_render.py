"""Server-side rendering: Jinja2 templates from the package, autoescaped (a job's payload,
error or name is always text on a page, never markup)."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rota.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["iso"] = iso
    env.filters["utc"] = utc_text
    return env


def iso(value: object) -> str:
    return value.isoformat() if isinstance(value, datetime) else ""


def utc_text(value: object) -> str:
    """A time as the pages write it before the browser localises it: UTC, to the second
    (anything else, such as the empty rows of row templates: "-")."""
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if isinstance(value, datetime) else "-"


def render(request: Request, template: str, context: dict[str, Any], *, status: int = 200) -> HTMLResponse:
    from rota import __version__

    dashboard = request.app.state.dashboard
    via = getattr(request.state, "via", None)
    full = {
        "base": request.scope.get("root_path", ""),
        "csrf": getattr(request.state, "csrf", ""),
        "read_only": dashboard.read_only,
        "store": dashboard.app.store.describe(),
        "version": __version__,
        "session": via is not None and via.value == "session",
        "page": template.removesuffix(".html"),
        **context,
    }
    html = environment().get_template(template).render(full)
    return HTMLResponse(html, status_code=status)
