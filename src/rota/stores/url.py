"""Build a store from a URL: ``memory://``, ``sqlite:///rota.db``, ``postgresql://...``,
``redis://...``, ``mongodb://...``. Backends are imported only when their URL is used."""

from __future__ import annotations

import importlib
import os
from urllib.parse import urlsplit

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


def store_from_url(url: str | None = None) -> Store:
    url = resolve_url(url)
    scheme = urlsplit(url).scheme.lower()
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


def redact(url: str) -> str:
    """The URL with any password replaced by ``***``, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url
