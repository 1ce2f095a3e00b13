"""The public surface is explicit: adding or removing a name is a deliberate change."""

import rota

EXPECTED = {
    "App", "At", "Attempt", "Cancel", "Clock", "ConfigError", "Cron", "Event", "EventKind",
    "Every", "InvalidState", "InvalidTrigger", "Job", "JobNotFound", "JobSpec", "JobStatus",
    "LockLost", "NotSupported", "Outcome", "PayloadError", "Retry", "RetryPolicy", "RotaError",
    "Schedule", "ScheduleInfo", "ScheduleNotFound", "Scheduler", "StoreError", "StoreUnavailable",
    "SystemClock", "Task", "TaskNotFound", "Worker", "WorkerSettings", "__version__",
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
