"""``settings.ROTA``, checked once when Django starts (``RotaConfig.ready``)::

    ROTA = {
        "APP": "shop.tasks:app",                 # required: the rota.App your tasks are on
        "STORE_URL": "postgresql://db/shop",     # optional: else the App's own (ROTA_STORE_URL...)
        "WORKER": {"concurrency": 8, "queues": ["email"], "grace": 30},  # manage.py rota_worker
    }

An unknown key, a missing or wrong ``APP``, or a ``WORKER`` value ``WorkerSettings`` refuses
is a ``ConfigError`` naming the setting, at start-up rather than on the first enqueue.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rota._errors import ConfigError, RotaError
from rota.runtime.worker_settings import WorkerSettings

__all__ = ["RotaSettings"]

_KEYS = ("APP", "STORE_URL", "WORKER")


@dataclass(frozen=True)
class RotaSettings:
    """``settings.ROTA``, checked: the App's ``module:attribute``, the store URL (None: the
    App's own), and the ``rota_worker`` command's default ``WorkerSettings`` keywords."""

    app: str
    store_url: str | None = None
    worker: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: object) -> RotaSettings:
        if not isinstance(raw, Mapping):
            raise ConfigError(f"settings.ROTA must be a dict, got {type(raw).__name__}")
        unknown = sorted(str(k) for k in raw if k not in _KEYS)
        if unknown:
            raise ConfigError(f"settings.ROTA has unknown keys {unknown} (known: {', '.join(_KEYS)})")
        app = raw.get("APP")
        if not isinstance(app, str) or not app:
            raise ConfigError('settings.ROTA["APP"] must name your rota.App, e.g. "shop.tasks:app"')
        url = raw.get("STORE_URL")
        if url is not None and (not isinstance(url, str) or not url):
            raise ConfigError('settings.ROTA["STORE_URL"] must be a store URL string')
        worker = raw.get("WORKER", {})
        if not isinstance(worker, Mapping):
            raise ConfigError(f'settings.ROTA["WORKER"] must be a dict, got {type(worker).__name__}')
        try:
            WorkerSettings(**worker)
        except TypeError as exc:  # an unknown keyword
            raise ConfigError(f'settings.ROTA["WORKER"]: {exc}') from None
        except RotaError as exc:
            raise ConfigError(f'settings.ROTA["WORKER"]: {exc}') from None
        return cls(app=app, store_url=url, worker=dict(worker))
