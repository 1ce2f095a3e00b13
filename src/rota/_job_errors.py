"""The errors of ``app.result`` that carry the job (apart from ``rota._errors``, which the
models import: these import the models)."""

from __future__ import annotations

from rota._errors import RotaError
from rota._models import ErrorInfo, Job


class JobFailed(RotaError):
    """``app.result``: the job ended ``failed``. ``job`` is the job as stored; ``error`` its
    last attempt's error (type, message, traceback), or None when none was recorded."""

    def __init__(self, message: str, *, job: Job, error: ErrorInfo | None) -> None:
        super().__init__(message)
        self.job = job
        self.error = error


class JobCancelled(RotaError):
    """``app.result``: the job ended ``cancelled`` (``app.cancel``, a handler's
    ``Cancel``); ``job.last_error`` holds the reason, when one was given."""

    def __init__(self, message: str, *, job: Job) -> None:
        super().__init__(message)
        self.job = job
