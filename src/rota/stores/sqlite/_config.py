"""The SQLite store's configuration, from ``sqlite:///relative.db`` or
``sqlite:////absolute.db`` and their query options.

Options (all optional): ``busy_timeout`` (milliseconds a writer waits for the lock before
the call fails with StoreUnavailable; default 5000) and ``synchronous`` (``normal``, the
default and safe against process crashes in WAL mode, or ``full``/``extra`` to survive
power loss too). Anything else is a ConfigError: a typo must not be silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl, unquote

from rota._errors import ConfigError
from rota.stores.url import redact, split_url

MEMORY = ":memory:"
_SYNCHRONOUS = ("normal", "full", "extra")


@dataclass(frozen=True, slots=True)
class SQLiteConfig:
    """What ``from_url`` understood (the path holds no secret: the repr shows it all)."""

    path: str  # a file path, or ":memory:" for a private in-process database
    busy_timeout: float = 5.0  # seconds
    synchronous: str = "normal"

    def __post_init__(self) -> None:
        if not isinstance(self.busy_timeout, int | float) or not 0 <= self.busy_timeout < 86_400:
            raise ConfigError(f"busy_timeout must be from 0 to 86400 seconds, not {self.busy_timeout!r}")
        if self.synchronous not in _SYNCHRONOUS:
            raise ConfigError(
                f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {self.synchronous!r}"
            )

    @property
    def in_memory(self) -> bool:
        return self.path == MEMORY

    def describe(self) -> str:
        return "sqlite (in memory)" if self.in_memory else f"sqlite:///{self.path} (WAL)"

    @classmethod
    def from_url(cls, url: str) -> SQLiteConfig:
        """Parse a SQLite store URL (the SQLAlchemy form); raises ConfigError when invalid."""
        return _parse(url)


def _parse(url: str) -> SQLiteConfig:
    parts = split_url(url)
    if parts.scheme.lower() != "sqlite":
        raise ConfigError(f"not a SQLite URL: {redact(url)!r} (expected sqlite:///path.db)")
    if parts.netloc:
        host = redact(url).split("://", 1)[-1].split("/", 1)[0]
        raise ConfigError(
            f"SQLite URL {redact(url)!r} names a host {host!r}; use sqlite:///relative.db "
            "or sqlite:////absolute/path.db"
        )
    if parts.fragment:
        raise ConfigError(f"SQLite URL {redact(url)!r} must not have a #fragment")
    # "sqlite:///x.db" -> path "/x.db" -> "x.db"; "sqlite:////tmp/x.db" -> "/tmp/x.db"
    path = unquote(parts.path[1:]) if parts.path.startswith("/") else unquote(parts.path)
    if not path:
        raise ConfigError(f"SQLite URL {redact(url)!r} has no file path (sqlite:///rota.db, say)")
    options = _options(url, parts.query)
    busy = options.pop("busy_timeout", None)
    sync = options.pop("synchronous", None)
    if options:
        unknown = ", ".join(sorted(options))
        raise ConfigError(
            f"unknown SQLite URL option(s) {unknown} in {redact(url)!r}; known: busy_timeout, synchronous"
        )
    config = SQLiteConfig(path=path)
    if busy is not None:
        if not busy.isdigit():
            raise ConfigError(f"busy_timeout must be a whole number of milliseconds, not {busy!r}")
        config = SQLiteConfig(path, int(busy) / 1000, config.synchronous)
    if sync is not None:
        if sync.lower() not in _SYNCHRONOUS:
            raise ConfigError(f"synchronous must be one of {', '.join(_SYNCHRONOUS)}, not {sync!r}")
        config = SQLiteConfig(path, config.busy_timeout, sync.lower())
    return config


def _options(url: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigError(f"malformed query string in SQLite URL {redact(url)!r}") from exc
    for key, value in pairs:
        if key in options:
            raise ConfigError(f"SQLite URL option {key!r} given twice in {redact(url)!r}")
        options[key] = value
    return options
