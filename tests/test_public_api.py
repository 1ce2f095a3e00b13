"""The public surface is explicit: adding or removing a name is a deliberate change, and
whatever the App hands a user is exported from ``rota``."""

import inspect
import typing
from collections.abc import Iterator

import rota
import rota.stores

EXPECTED = {
    "App", "AppConfig", "At", "Attempt", "Cancel", "Clock", "ConfigError", "Cron", "EnqueueOptions",
    "Event", "EventKind", "Every", "Fence", "Health", "InvalidState", "InvalidTrigger", "Job",
    "JobContext", "JobNotFound", "JobSpec", "JobStatus", "LeaderElection", "LeaderInfo", "LeaderSettings",
    "LeaseOptions", "LeaseTiming", "Lock", "LockLost", "MisfirePolicy", "NotSupported", "Outcome",
    "OverlapPolicy", "PayloadError", "QueueDepth", "QueueStats", "Retry", "RetryPolicy", "RotaError",
    "RuntimeContext", "Schedule", "ScheduleInfo", "ScheduleNotFound", "Scheduler", "Schedules",
    "StoreClosed", "StoreError", "StoreUnavailable", "SystemClock", "Task", "TaskDecorator", "TaskNotFound",
    "TaskOptions", "Timer", "Worker", "WorkerCounters", "WorkerInfo", "WorkerSettings", "__version__",
    "current_job",
}  # fmt: skip


def test_public_names_are_pinned() -> None:
    assert set(rota.__all__) == EXPECTED
    for name in rota.__all__:
        assert hasattr(rota, name), name


def test_every_error_is_a_rota_error_and_signals_are_not() -> None:
    errors = [getattr(rota, n) for n in rota.__all__ if n.endswith(("Error", "NotFound", "Unavailable"))]
    errors += [rota.InvalidState, rota.InvalidTrigger, rota.LockLost, rota.NotSupported]
    assert all(issubclass(e, rota.RotaError) for e in errors)
    assert not issubclass(rota.Retry, rota.RotaError) and not issubclass(rota.Cancel, rota.RotaError)


def _classes(hint: object) -> Iterator[type]:
    """The classes a type hint names (``list[Job] | None`` names ``Job``)."""
    origin = typing.get_origin(hint)
    if isinstance(hint, type) and origin is None:
        yield hint
    if origin is not None and isinstance(origin, type):
        yield origin
    for arg in typing.get_args(hint):
        yield from _classes(arg)


def _handed(cls: type) -> Iterator[type]:
    """What the public methods, properties and fields of ``cls`` return."""
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        function = member.fget if isinstance(member, property) else member
        if inspect.isfunction(function):
            yield from _classes(typing.get_type_hints(function).get("return"))
    for name, hint in typing.get_type_hints(cls).items():  # fields and annotated attributes
        if not name.startswith("_"):
            yield from _classes(hint)


#: Not looked into: the runtime context's fields are the services' plumbing, and the store
#: interface is a public module of its own (``rota.stores``, for those who write a store).
PLUMBING = {rota.RuntimeContext, rota.stores.Store}


def test_what_the_app_hands_a_user_is_exported() -> None:
    """Two steps out from the App: what its methods return (a worker, an election, a lock,
    a health report...), and what those return in turn."""
    first = {c for c in _handed(rota.App) if c.__module__.startswith("rota")}
    second = {c for cls in first - PLUMBING for c in _handed(cls) if c.__module__.startswith("rota")}
    assert {rota.Worker, rota.Scheduler, rota.LeaderElection, rota.Lock, rota.Health} <= first
    assert {rota.AppConfig, rota.RuntimeContext, rota.QueueStats, rota.Schedules} <= first
    assert {rota.LeaderInfo, rota.QueueDepth, rota.LeaderSettings} <= second
    private = sorted(
        f"{c.__module__}.{c.__qualname__}"
        for c in (first | second) - PLUMBING
        if getattr(rota, c.__name__, None) is not c
    )
    assert private == []
