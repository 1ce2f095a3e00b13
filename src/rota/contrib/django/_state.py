"""The process's App and its blocking facade, set once by ``RotaConfig.ready``."""

from __future__ import annotations

import atexit
import threading

from rota._app import App
from rota._errors import ConfigError, RotaError
from rota.contrib.django.conf import RotaSettings
from rota.sync import SyncApp

_lock = threading.Lock()
_app: App | None = None
_conf: RotaSettings | None = None
_error: RotaError | None = None
_sync: SyncApp | None = None


def configure(app: App, conf: RotaSettings) -> None:
    global _app, _conf, _error
    with _lock:
        _app, _conf, _error = app, conf, None


def failed(error: RotaError) -> None:
    global _error
    _error = error


def error() -> RotaError | None:
    return _error


def app() -> App:
    if _error is not None:
        raise ConfigError(str(_error))
    if _app is None:
        raise ConfigError('rota is not set up: add "rota.contrib.django" to INSTALLED_APPS and set ROTA')
    return _app


def conf() -> RotaSettings:
    app()
    assert _conf is not None
    return _conf


def sync_app() -> SyncApp:
    """One SyncApp per process, made on first use; its store is closed at exit."""
    global _sync
    with _lock:
        if _sync is None:
            _sync = SyncApp(app())
            atexit.register(_sync.close)
        return _sync
