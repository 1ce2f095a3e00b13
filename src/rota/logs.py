"""Log output for ``rota`` commands: text lines or JSON lines (``--log-format json``).

rota logs with the standard library only, under loggers named ``rota.*`` (``rota.jobs``: one
record per job start and outcome; ``rota.worker``, ``rota.leader``, ``rota.store``...), with
structured fields in each record's ``extra``. An application that configures logging itself
keeps doing so; ``JsonFormatter`` is there for it too::

    handler = logging.StreamHandler()
    handler.setFormatter(rota.logs.JsonFormatter())
    logging.getLogger("rota").addHandler(handler)

A JSON line holds ``time`` (ISO 8601 in UTC, to the millisecond: ``2030-01-02T03:04:05.678Z``),
``level``, ``logger``, ``message``, every ``extra`` field of the record, and ``exc_info``
(the formatted traceback) when there is one.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

import msgspec

__all__ = ["FORMATS", "TEXT_FORMAT", "JsonFormatter", "configure", "lighten"]

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

#: the attributes every LogRecord has: anything else on a record came from ``extra``
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _fallback(value: Any) -> str:
    """How a value JSON cannot hold is written: its ``str()``."""
    return str(value)


_encode = msgspec.json.Encoder(enc_hook=_fallback).encode


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object on one line (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._prefix = ""

    def _time(self, created: float) -> str:
        # the date and time change once a second; a worker logs thousands of lines in one
        second = int(created)
        if second != self._second:
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._prefix}.{int((created - second) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in data:
                data[key] = value
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exc_info"] = record.exc_text
        if record.stack_info:
            data["stack_info"] = self.formatStack(record.stack_info)
        try:
            return _encode(data).decode()
        except Exception:  # a value whose str() fails, a huge int...: never lose the line
            return _encode({k: _safe(v) for k, v in data.items()}).decode()


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        return str(value)
    except Exception:
        return f"<{type(value).__name__}>"


def lighten() -> None:
    """Leave out of every record what rota's formats never show: the caller's file and line,
    the thread, the process and the asyncio task (the logging HOWTO's "Optimization"
    section). A worker logging each job's start and end saves a third of each record's
    cost. For processes rota owns (``rota worker``), not for a library's host."""
    logging._srcfile = None  # no sys._getframe() walk per record
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    setattr(logging, "logAsyncioTasks", False)  # noqa: B010 - Python 3.12+ reads it, 3.11 has none


def configure(level: int, fmt: LogFormat = "text", stream: IO[str] | None = None) -> None:
    """Log ``level`` and above to ``stream`` (stderr) in ``fmt``: what ``rota`` commands do
    with ``--log-level``/``-v`` and ``--log-format``. Like ``logging.basicConfig``, it adds
    its handler only when the root logger has none (a host that configured logging, or a
    test's capture, keeps its own); the level is set either way."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
        root.addHandler(handler)
    root.setLevel(level)
