"""Every error rota raises, and the control signals a handler may raise.

The tree::

    RotaError
    ├── ConfigError            bad settings, bad store URL, bad task options
    ├── PayloadError           a payload that does not fit its task's annotation
    ├── TaskNotFound           a job or schedule names a task this app does not know
    ├── JobNotFound
    ├── JobFailed              app.result: the job failed for good (carries its last error;
    ├── JobCancelled           app.result: the job was cancelled      both in rota._job_errors)
    ├── ResultTimeout          app.result: no final status within the timeout (a TimeoutError too)
    ├── ResultError            a handler's return value cannot be stored (fails the attempt)
    ├── ScheduleNotFound
    ├── InvalidTrigger         a cron expression, interval or time that cannot fire
    ├── InvalidState           the operation does not apply to the object's current state
    ├── LockLost               a distributed lock expired or was taken while held
    └── StoreError             anything a store raises
        ├── StoreUnavailable   transient: connection lost, server restarting; retried with backoff
        ├── StoreClosed        the store is not open (before open(), after close()); not retried
        └── NotSupported       the store cannot provide this feature (never silently faked)

Control signals are not errors: a handler raises them to steer its own job
(``rota._signals``: ``Retry(after=...)``, ``Cancel(reason)``).
"""

from __future__ import annotations


class RotaError(Exception):
    """Base class of every error rota raises."""


class ConfigError(RotaError):
    """Settings, a store URL or task options are invalid."""


class PayloadError(RotaError):
    """A payload does not fit the task's annotation (raised at enqueue, never half-written)."""


class TaskNotFound(RotaError):
    """No task of this name is registered on the app."""


class JobNotFound(RotaError):
    """No job with this id exists in the store."""


class ResultTimeout(RotaError, TimeoutError):
    """``app.result``: the job did not end within the timeout (it goes on; wait again)."""


class ResultError(RotaError):
    """A handler's return value cannot be stored: not JSON-encodable, or larger than the
    app's ``max_payload_bytes`` once encoded. The attempt fails with this error."""


class ScheduleNotFound(RotaError):
    """No schedule with this id exists in the store."""


class InvalidTrigger(RotaError):
    """A trigger (cron expression, interval, one-time instant) is malformed."""


class InvalidState(RotaError):
    """The operation does not apply to the object in its current state."""


class LockLost(RotaError):
    """A held lock expired or passed to another owner; the guarded block is cancelled."""


class StoreError(RotaError):
    """A store operation failed."""


class StoreUnavailable(StoreError):
    """A transient store failure (connection lost, server restarting); safe to retry."""


class StoreClosed(StoreError):
    """The store is not open: ``open()`` was not called yet, or ``close()`` was. A mistake in
    the caller's code, not an outage: retrying cannot help, so it is not ``StoreUnavailable``."""


class NotSupported(StoreError):
    """The store cannot provide the requested feature."""
