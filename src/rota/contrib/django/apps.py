"""The Django app: add ``"rota.contrib.django"`` to ``INSTALLED_APPS`` and set ``ROTA``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core import checks

from rota._errors import RotaError
from rota.cli._load import load_app
from rota.contrib.django import _state
from rota.contrib.django.conf import RotaSettings


class RotaConfig(AppConfig):
    """Reads ``settings.ROTA`` once Django's apps are loaded, imports the App it names and
    points it at ``STORE_URL``; ``rota.contrib.django.get_app()`` returns it from then on.
    Nothing connects here: the store opens on first use (an enqueue, the worker).

    A refused setting does not crash start-up with a traceback: it is a system check error
    (``rota.E001``; ``manage.py check``, ``runserver`` and ``rota_worker`` report it and stop),
    and ``get_app()`` raises it as a ``ConfigError``."""

    name = "rota.contrib.django"
    label = "rota"
    verbose_name = "rota"
    default = True

    def ready(self) -> None:
        try:
            conf = RotaSettings.parse(getattr(settings, "ROTA", None))
            app = load_app(conf.app)
            if conf.store_url is not None:
                app.use_store(conf.store_url)
        except RotaError as exc:
            _state.failed(exc)
        else:
            _state.configure(app, conf)
        checks.register(_check_settings)


def _check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    error = _state.error()
    if error is None:
        return []
    return [checks.Error(str(error), hint="see rota.contrib.django.conf for settings.ROTA", id="rota.E001")]
