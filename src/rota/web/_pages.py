"""The pages, rendered on the server from the same reads as the JSON API; their scripts
(static/app.js) refresh them from the API and send the actions to it."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse

from rota import _limits
from rota._errors import ConfigError, JobNotFound
from rota._models import JobStatus
from rota.web._auth import SESSION_COOKIE, Auth, cookie_path, set_session
from rota.web._data import Dashboard
from rota.web._query import JobQuery
from rota.web._render import render

router = APIRouter(include_in_schema=False)

STATUSES = tuple(s.value for s in JobStatus)  # the filter's choices: every status, waiting first


def board(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


@router.get("/")
async def overview(request: Request) -> Response:
    data = await board(request).overview()
    return render(request, "overview.html", {"o": data})


@router.get("/jobs")
async def jobs(request: Request) -> Response:
    params = request.query_params
    base = request.scope.get("root_path", "")
    wanted = params.get("id", "").strip()
    if wanted:
        try:
            job = await board(request).job(_limits.name(wanted, "job id"))
        except (JobNotFound, ConfigError) as exc:
            return _jobs_page(request, JobQuery(), None, f"{exc}", status=404)
        return RedirectResponse(f"{base}/jobs/{job.id}", status_code=303)
    try:
        query = JobQuery.build(**{k: params.get(k) for k in _FILTERS})
        page = await board(request).jobs(query)
    except ConfigError as exc:
        return _jobs_page(request, JobQuery(), None, str(exc), status=400)
    return _jobs_page(request, query, page, None)


_FILTERS = ("status", "queue", "task", "schedule", "key", "since", "until", "order", "limit", "cursor")


def _jobs_page(
    request: Request, query: JobQuery, page: object, error: str | None, *, status: int = 200
) -> Response:
    links = {}
    if page is not None:
        for name in ("next_cursor", "prev_cursor"):
            cursor = getattr(page, name)
            if cursor is not None:
                links[name] = "?" + urlencode(query.params(cursor=cursor))
    context = {"q": query, "p": page, "error": error, "links": links, "statuses": STATUSES,
               "api_query": urlencode(query.params())}  # fmt: skip
    return render(request, "jobs.html", context, status=status)


@router.get("/jobs/{job_id}")
async def job(request: Request, job_id: str) -> Response:
    data = await board(request).job(_limits.name(job_id, "job id"))
    return render(request, "job.html", {"j": data})


@router.get("/schedules")
async def schedules(request: Request) -> Response:
    return render(request, "schedules.html", {"schedules": await board(request).schedules()})


@router.get("/leases")
async def leases(request: Request) -> Response:
    return render(request, "leases.html", {"leases": await board(request).leases()})


@router.get("/login")
async def login_form(request: Request) -> Response:
    return render(request, "login.html", {"error": None})


@router.post("/login")
async def login(request: Request) -> Response:
    """The token from the login form: a session cookie, then the overview."""
    auth: Auth | None = request.app.state.auth
    base = request.scope.get("root_path", "")
    if auth is None:
        return RedirectResponse(f"{base}/", status_code=303)
    body = (await request.body())[:10_000].decode("utf-8", "replace")
    token = (parse_qs(body).get("token") or [""])[0]
    if not auth.check_token(token):
        return render(request, "login.html", {"error": "wrong token"}, status=401)
    response = RedirectResponse(f"{base}/", status_code=303)
    set_session(request, response, auth)
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    base = request.scope.get("root_path", "")
    response = RedirectResponse(f"{base}/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=cookie_path(request))
    return response
