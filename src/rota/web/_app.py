"""``dashboard_app``: the dashboard as one ASGI application (FastAPI), pages and JSON API.

Every request passes one middleware before any route: security headers on every answer
(a strict Content-Security-Policy: no inline script, nothing from another origin),
authentication (or, without ``Auth``, loopback host names only), and for actions the
read-only switch and the CSRF check (see _auth.py). Errors are JSON under ``/api`` and a page
elsewhere; bad input is always a 4xx.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException

from rota._app import App
from rota._errors import (
    ConfigError,
    InvalidState,
    InvalidTrigger,
    JobNotFound,
    PayloadError,
    RotaError,
    ScheduleNotFound,
    StoreError,
    TaskNotFound,
)
from rota.web import _api, _pages
from rota.web._auth import (
    CSRF_COOKIE,
    Auth,
    Via,
    cookie_path,
    csrf_refusal,
    loopback_host,
    new_csrf_token,
    set_session,
)
from rota.web._data import Dashboard
from rota.web._render import render

log = logging.getLogger("rota.web")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    # same-origin, not no-referrer: with no referrer, Chromium sends "Origin: null" on a form
    # post, and the origin check (CSRF) must see the page's own origin
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}
_LOOPBACK_ONLY = (
    "this dashboard has no authentication, so it answers only requests to a loopback host "
    "(127.0.0.1, localhost, ::1)"
)
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# what a RotaError means for HTTP: (status, error code)
_ERRORS: list[tuple[type[RotaError], int, str]] = [
    (JobNotFound, 404, "not_found"),
    (ScheduleNotFound, 404, "not_found"),
    (InvalidState, 409, "conflict"),
    (ConfigError, 400, "bad_request"),
    (InvalidTrigger, 400, "bad_request"),
    (PayloadError, 400, "bad_request"),
    (TaskNotFound, 400, "bad_request"),
    (StoreError, 503, "store_unavailable"),
]


def dashboard_app(app: App, *, auth: Auth | None = None, read_only: bool = False) -> FastAPI:
    """The dashboard of ``app`` (its store) as an ASGI application, to serve with uvicorn
    (``rota dashboard``) or mount in FastAPI or Starlette: ``api.mount("/rota", dashboard_app(app,
    auth=Auth(token=...)))``.

    ``auth``: a token and/or basic credentials every request must present; without it the
    dashboard answers only requests addressed to a loopback host name (127.0.0.1, localhost,
    ::1). ``read_only``: the pages show no actions and the API refuses them (403). The app is
    opened on first use; closing it stays with the caller.
    """
    if not isinstance(app, App):
        raise ConfigError(f"dashboard_app takes a rota.App, got {type(app).__name__}")
    if auth is not None and not isinstance(auth, Auth):
        raise ConfigError(f"auth must be a rota.web.Auth, got {type(auth).__name__}")
    web = FastAPI(
        title="rota dashboard API",
        version="1",
        description="The JSON API of rota's dashboard (the pages use it too). Actions need the "
        "X-CSRF-Token header (GET /api/v1/session) unless the request carries a bearer token.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # the interactive docs load scripts from a CDN: not under this CSP
        redoc_url=None,
    )
    web.state.dashboard = Dashboard(app, read_only=read_only)
    web.state.auth = auth
    web.include_router(_api.router)
    web.include_router(_pages.router)
    web.mount("/static", StaticFiles(packages=[("rota.web", "static")]), name="static")
    _install_errors(web)
    web.middleware("http")(_guard)
    return web


def is_api(request: Request) -> bool:
    return relative_path(request).startswith("/api/")


def relative_path(request: Request) -> str:
    root = request.scope.get("root_path", "")
    path: str = request.scope["path"]
    return path[len(root) :] if root and path.startswith(root) else path


async def _guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    response = await _checked(request, call_next)
    for name, value in _HEADERS.items():
        response.headers.setdefault(name, value)
    if is_api(request):
        response.headers.setdefault("cache-control", "no-store")
    return response


async def _checked(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    path = relative_path(request)
    if path.startswith("/static/"):
        return await call_next(request)
    auth: Auth | None = request.app.state.auth
    if auth is None:
        if not loopback_host(request):
            return _refuse(request, 403, "forbidden", _LOOPBACK_ONLY)
        via: Via | None = Via.NONE
    else:
        via = auth.identify(request)
        if via is None and path == "/login":
            via = Via.NONE  # the login form and its post (checked there)
        elif via is None and request.method == "GET" and "token" in request.query_params:
            return _token_login(request, auth)
        elif via is None:
            if is_api(request):
                response: Response = _error(
                    401, "unauthorized", "authenticate with a bearer token or basic credentials"
                )
            else:
                response = render(request, "login.html", {"error": None}, status=401)
            if auth.basic:
                response.headers["www-authenticate"] = 'Basic realm="rota dashboard", charset="UTF-8"'
            return response
    request.state.via = via
    csrf = request.cookies.get(CSRF_COOKIE) or ""
    fresh = not csrf
    request.state.csrf = csrf or new_csrf_token()
    if request.method not in _SAFE:
        if request.app.state.dashboard.read_only and path not in ("/login", "/logout"):
            return _refuse(request, 403, "read_only", "this dashboard is read-only: actions are disabled")
        assert via is not None
        refusal = csrf_refusal(request, via)
        if refusal is not None and not (path in ("/login", "/logout") and _same_site(request)):
            return _refuse(request, 403, "csrf", refusal)
    response = await call_next(request)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, request.state.csrf, httponly=True, samesite="strict", path=cookie_path(request),
            secure=request.url.scheme == "https",
        )  # fmt: skip
    return response


def _same_site(request: Request) -> bool:
    """Logging in or out needs no CSRF token (the forms post without script; there is nothing
    to act on), but must not come from another site."""
    return csrf_refusal(request, Via.BEARER) is None


def _token_login(request: Request, auth: Auth) -> Response:
    """``?token=`` on a page: log in (a session cookie) and drop the token from the URL."""
    if not auth.check_token(request.query_params["token"]):
        return render(request, "login.html", {"error": "wrong token"}, status=401)
    rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
    target = (
        request.scope.get("root_path", "") + relative_path(request) + ("?" + urlencode(rest) if rest else "")
    )
    response = RedirectResponse(target, status_code=303)
    set_session(request, response, auth)
    return response


def _refuse(request: Request, status: int, code: str, message: str) -> Response:
    if is_api(request):
        return _error(status, code, message)
    return render(request, "error.html", {"status": status, "message": message}, status=status)


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def _place(error: dict[str, object]) -> str:
    """Where a validation error is: the parameter's name (and position within it)."""
    loc = error.get("loc", ())
    parts = loc if isinstance(loc, (list, tuple)) else ()
    return ".".join(str(p) for p in parts if p not in ("query", "path", "body"))


def _install_errors(web: FastAPI) -> None:
    async def rota_error(request: Request, exc: Exception) -> Response:
        for kind, status, code in _ERRORS:
            if isinstance(exc, kind):
                return _refuse(request, status, code, str(exc))
        return _refuse(request, 400, "bad_request", str(exc))

    async def invalid(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        problems = "; ".join(f"{_place(e)}: {e.get('msg')}" for e in exc.errors())
        return _refuse(request, 422, "invalid_request", problems or "invalid request")

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        codes = {404: "not_found", 405: "method_not_allowed"}
        return _refuse(request, exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))

    async def crash(request: Request, exc: Exception) -> Response:
        log.exception("dashboard request %s %s failed", request.method, relative_path(request))
        return _refuse(request, 500, "internal_error", f"unexpected error: {type(exc).__name__}")

    web.add_exception_handler(RotaError, rota_error)
    web.add_exception_handler(RequestValidationError, invalid)
    web.add_exception_handler(HTTPException, http_error)
    web.add_exception_handler(Exception, crash)
