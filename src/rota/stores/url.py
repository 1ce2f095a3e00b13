"""Build a store from a URL: ``memory://``, ``sqlite:///rota.db``, ``postgresql://...``,
``redis://...``, ``mongodb://...``. Backends are imported only when their URL is used."""

from __future__ import annotations

import importlib
import os
import re
from urllib.parse import SplitResult, unquote, urlsplit

from rota._errors import ConfigError
from rota.stores.base import Store

DEFAULT_URL = "sqlite:///rota.db"

# scheme -> "module:factory"; each factory takes the full URL and returns an unopened Store
_BACKENDS = {
    "memory": "rota.stores.memory:from_url",
    "sqlite": "rota.stores.sqlite:from_url",
    "postgresql": "rota.stores.postgres:from_url",
    "postgres": "rota.stores.postgres:from_url",
    "redis": "rota.stores.redis:from_url",
    "rediss": "rota.stores.redis:from_url",
    "unix": "rota.stores.redis:from_url",
    "mongodb": "rota.stores.mongodb:from_url",
    "mongodb+srv": "rota.stores.mongodb:from_url",
}


def resolve_url(url: str | None) -> str:
    """The URL to use: the argument, else ``ROTA_STORE_URL``, else the embedded SQLite file."""
    return url or os.environ.get("ROTA_STORE_URL") or DEFAULT_URL


def split_url(url: str) -> SplitResult:
    """``urlsplit`` with a ``ConfigError`` (password hidden) for what it cannot split."""
    if not isinstance(url, str):
        raise ConfigError(f"a store URL must be a string, got {type(url).__name__}")
    try:
        return urlsplit(url)
    except ValueError as exc:
        raise ConfigError(f"invalid store URL {redact(url)!r}: {exc}") from None


def store_from_url(url: str | None = None) -> Store:
    url = resolve_url(url)
    scheme = split_url(url).scheme.lower()
    target = _BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(sorted({f"{s}://" for s in _BACKENDS}))
        raise ConfigError(
            f"unknown store URL scheme {scheme or '(none)'!r} in {redact(url)!r}; use one of {known}"
        )
    module_name, _, factory = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        extra = {"postgres": "postgres", "redis": "redis", "mongodb": "mongodb"}
        hint = next((f" (pip install 'rota[{v}]')" for k, v in extra.items() if k in module_name), "")
        raise ConfigError(f"the {scheme} store is not available: {exc}{hint}") from exc
    store: Store = getattr(module, factory)(url)
    return store


# query options whose values are secrets (or may hold one), in any store's URL
_SECRET_OPTION = re.compile(r"pass|secret|token|credential|authmechanismproperties|apikey|api_key", re.I)


def redact(url: object) -> str:
    """The URL with its password and any secret-looking query option replaced by ``***``, for
    messages, logs and reprs. Never raises, whatever the input: a malformed URL is exactly the
    one an error message is about to print. Errs on the side of hiding too much."""
    if not isinstance(url, str):
        return "<not a URL>"
    head, sep, rest = url.partition("://")
    if not sep:
        head, rest = "", url
    else:
        head += sep
    end = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=len(rest))
    authority_and_path, tail = rest[:end], rest[end:]
    at = authority_and_path.rfind("@")
    if sep and at >= 0:
        userinfo = authority_and_path[:at]
        if ":" in userinfo:
            authority_and_path = f"{userinfo.split(':', 1)[0]}:***{authority_and_path[at:]}"
    if tail.startswith("?"):
        query, hash_, fragment = tail[1:].partition("#")
        tail = "?" + "&".join(_redact_option(pair) for pair in query.split("&")) + hash_ + fragment
    return head + authority_and_path + tail


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")


def scrub(text: str) -> str:
    """``text`` with every URL in it redacted: for messages that quote a driver's error."""
    return _URL_IN_TEXT.sub(lambda m: redact(m.group(0)), text)


def _redact_option(pair: str) -> str:
    key, eq, _ = pair.partition("=")
    if eq and _SECRET_OPTION.search(unquote(key).replace("_", "").replace("-", "")):
        return f"{key}=***"
    return pair
