"""Django integration (``pip install 'rota[django]'``).

``INSTALLED_APPS += ["rota.contrib.django"]`` and ``ROTA = {"APP": "shop.tasks:app", ...}``
(see ``rota.contrib.django.conf``) give a Django project:

* ``get_app()``: the rota App named by ``ROTA["APP"]``, pointed at ``ROTA["STORE_URL"]``;
* ``sync_app()``: its blocking facade (``rota.sync.SyncApp``) for views and other sync code:
  ``sync_app().enqueue(send_receipt, order.id)``, ``.get_job(id)``, ``.stats()``...;
* ``enqueue_on_commit(task, payload, ...)``: queue a job once the surrounding database
  transaction commits, and not at all if it rolls back;
* ``manage.py rota_worker``: the worker, with ``ROTA["WORKER"]`` as its defaults; graceful on
  SIGTERM/SIGINT like ``rota worker``.

The sync facade runs the App on its own event loop thread: in the web process use either it
or the async API, not both on the same App. A worker process runs the App on the worker's
loop: there, ``async def`` handlers enqueue with ``await app.enqueue(...)``.
"""

from __future__ import annotations

from typing import Any, TypeVar, Unpack, overload

from rota._app import App
from rota._errors import ConfigError
from rota._task import EnqueueOptions, Task
from rota.contrib.django import _state
from rota.sync import SyncApp

__all__ = ["enqueue_on_commit", "get_app", "sync_app"]

P = TypeVar("P")


def get_app() -> App:
    """The App ``settings.ROTA["APP"]`` names (``ConfigError`` before Django set it up)."""
    return _state.app()


def sync_app() -> SyncApp:
    """The process's blocking facade over ``get_app()``, made on first use."""
    return _state.sync_app()


@overload
def enqueue_on_commit(
    task: Task[P], payload: P, *, using: str | None = None, **options: Unpack[EnqueueOptions]
) -> None: ...
@overload
def enqueue_on_commit(
    task: Task[None], payload: None = None, *, using: str | None = None, **options: Unpack[EnqueueOptions]
) -> None: ...
@overload
def enqueue_on_commit(
    task: str, payload: object = None, *, using: str | None = None, **options: Unpack[EnqueueOptions]
) -> None: ...


def enqueue_on_commit(
    task: Task[Any] | str,
    payload: object = None,
    *,
    using: str | None = None,
    **options: Unpack[EnqueueOptions],
) -> None:
    """Queue a job of ``task`` when the current transaction on database ``using`` commits
    (``transaction.on_commit``); at once outside a transaction (autocommit).

    The payload and the options are checked now, so bad input raises here, inside the
    transaction, not after it committed. If the transaction rolls back, no job is ever
    queued. The job is added right after the commit, so it is not atomic with it: a process
    that dies in between, or a store that refuses the add (the error then reaches the code
    that committed, as Django's ``on_commit`` does), leaves the data committed without its
    job. Give the job a ``key`` and enqueue it again from a periodic check where that
    matters; ``delay`` counts from the commit.
    """
    app = get_app()
    handle = app.get_task(task) if isinstance(task, str) else task
    if not isinstance(handle, Task):
        raise ConfigError(f"enqueue_on_commit takes a Task or a task name, got {type(task).__name__}")
    spec = handle.prepare(payload, **options)
    # imported here: the package (and its conf module) stay importable without touching
    # Django's lazily configured settings
    from django.db import transaction

    def enqueue() -> None:
        sync_app().enqueue_many([spec])

    transaction.on_commit(enqueue, using=using)
