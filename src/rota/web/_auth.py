"""Who may use the dashboard, and which requests may change something.

Authentication (``Auth``): a token (``Authorization: Bearer``, or a session cookie a browser
gets by logging in with it) and/or HTTP basic credentials; every comparison is constant-time
(``hmac.compare_digest``). Without ``Auth`` the dashboard answers only requests addressed to
a loopback host name, so a web page cannot reach it through a DNS name rebound to 127.0.0.1.

Actions (every method but GET/HEAD) also need proof that they come from the dashboard's own
pages: the double-submit CSRF token (a random value in an HttpOnly, SameSite=Strict cookie
that the page repeats in the ``X-CSRF-Token`` header), and no ``Origin`` or ``Sec-Fetch-Site``
header naming another site. A request authenticated by a bearer token carries no ambient
credential a foreign page could borrow, so scripts using one need no CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import Response

from rota._errors import ConfigError

SESSION_COOKIE = "rota_session"
CSRF_COOKIE = "rota_csrf"
CSRF_HEADER = "x-csrf-token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})

TOKEN_ENV = "ROTA_DASHBOARD_TOKEN"  # noqa: S105 - the name of a variable, not a token
USER_ENV = "ROTA_DASHBOARD_USER"
PASSWORD_ENV = "ROTA_DASHBOARD_PASSWORD"  # noqa: S105 - the name of a variable, not a password


class Via(Enum):
    """How a request proved who it is."""

    NONE = "none"  # no Auth configured (loopback only)
    BEARER = "bearer"  # a token in the Authorization header: no ambient credential
    BASIC = "basic"  # HTTP basic: the browser resends it on its own, like a cookie
    SESSION = "session"  # the session cookie of a token login


@dataclass(frozen=True, slots=True)
class Auth:
    """The dashboard's credentials: a ``token``, a ``username`` with a ``password``, or both.

    ``Auth.from_env()`` reads ``ROTA_DASHBOARD_TOKEN``, ``ROTA_DASHBOARD_USER`` and
    ``ROTA_DASHBOARD_PASSWORD`` (None when none is set)."""

    token: str | None = None
    username: str | None = None
    password: str | None = None

    def __post_init__(self) -> None:
        for what in ("token", "username", "password"):
            value = getattr(self, what)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigError(f"dashboard {what} must be non-empty text")
        if (self.username is None) != (self.password is None):
            raise ConfigError("dashboard basic auth needs both a username and a password")
        if self.token is None and self.username is None:
            raise ConfigError("dashboard auth needs a token, or a username and a password")
        if self.username is not None and ":" in self.username:
            raise ConfigError("a basic-auth username cannot contain ':'")

    def __repr__(self) -> str:
        return f"Auth(token={'***' if self.token else None}, username={self.username!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Auth | None:
        env = os.environ if environ is None else environ
        token, user, password = env.get(TOKEN_ENV), env.get(USER_ENV), env.get(PASSWORD_ENV)
        if not (token or user or password):
            return None
        return cls(token=token or None, username=user or None, password=password or None)

    @property
    def basic(self) -> bool:
        return self.username is not None

    def session_value(self) -> str:
        """The session cookie of a token login: derived from the token, never the token."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"rota-dashboard-session", hashlib.sha256).hexdigest()

    def check_token(self, given: str) -> bool:
        return self.token is not None and _same(given, self.token)

    def identify(self, conn: HTTPConnection) -> Via | None:
        """How ``conn`` authenticates, or None when it does not."""
        scheme, _, value = conn.headers.get("authorization", "").partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer" and self.check_token(value.strip()):
            return Via.BEARER
        if scheme == "basic" and self.basic and self._check_basic(value.strip()):
            return Via.BASIC
        cookie = conn.cookies.get(SESSION_COOKIE)
        if cookie and self.token is not None and _same(cookie, self.session_value()):
            return Via.SESSION
        return None

    def _check_basic(self, encoded: str) -> bool:
        import base64
        import binascii

        try:
            user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        assert self.username is not None
        assert self.password is not None
        # both compared, whatever the first says: no timing hint of which one was wrong
        ok_user = _same(user, self.username)
        ok_password = _same(password, self.password)
        return bool(sep) and ok_user and ok_password


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def loopback_host(conn: HTTPConnection) -> bool:
    """Whether the request is addressed to a loopback host name (its Host header)."""
    host = conn.headers.get("host", "")
    name = urlsplit(f"//{host}").hostname or ""
    return name in LOOPBACK_NAMES or name.endswith(".localhost")


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_refusal(conn: HTTPConnection, via: Via) -> str | None:
    """Why an action must be refused as a possible cross-site request (None: it may go on)."""
    site = conn.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {site})"
    origin = conn.headers.get("origin")
    if origin is not None and origin != own_origin(conn):
        return f"request from another origin refused ({origin})"
    if via is Via.BEARER:
        return None
    cookie = conn.cookies.get(CSRF_COOKIE, "")
    header = conn.headers.get(CSRF_HEADER, "")
    if not cookie or not header or not _same(header, cookie):
        return (
            "missing or wrong CSRF token: send the X-CSRF-Token header of the page or of GET /api/v1/session"
        )
    return None


def own_origin(conn: HTTPConnection) -> str:
    return f"{conn.url.scheme}://{conn.headers.get('host', '')}"


def cookie_path(conn: HTTPConnection) -> str:
    """The dashboard's cookies belong to its own path (the mount point, or /)."""
    root: str = conn.scope.get("root_path", "")
    return root or "/"


def set_session(conn: HTTPConnection, response: Response, auth: Auth) -> None:
    """Log the browser in: the session cookie of ``auth``'s token."""
    response.set_cookie(
        SESSION_COOKIE, auth.session_value(), httponly=True, samesite="strict", path=cookie_path(conn),
        secure=conn.url.scheme == "https",
    )  # fmt: skip
