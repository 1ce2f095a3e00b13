"""The PostgreSQL store's configuration, from its URL:
``postgresql://user:pass@host:port/db?schema=rota&migrate=true``.

rota's own options are taken out of the query string; libpq-style connection options that
the driver understands (sslmode, sslrootcert, ...) are passed on; anything else is refused,
so a misspelt option never goes unnoticed.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rota._convert import parse_bool
from rota._errors import ConfigError
from rota.stores.url import redact, split_url

DEFAULT_SCHEMA = "rota"
# lower case only: the name is used unquoted-equivalent in search_path and in channel names,
# whose 63-byte limit leaves room for a suffix
_SCHEMA_RE = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")

# passed to the driver as they are
_DRIVER_OPTIONS = frozenset(
    {
        "host", "port", "user", "password", "dbname", "database", "passfile", "service",
        "sslmode", "sslrootcert", "sslcert", "sslkey", "sslcrl", "sslpassword",
        "sslnegotiation", "ssl_min_protocol_version", "ssl_max_protocol_version",
        "target_session_attrs", "krbsrvname", "gsslib",
    }
)  # fmt: skip
_OWN_OPTIONS = ("schema", "migrate", "pool_min", "pool_max", "connect_timeout")


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    """What ``from_url`` understood. ``url`` and ``dsn`` may hold a password: they stay out
    of ``repr()``, which shows the redacted URL instead."""

    url: str = field(repr=False)  # as given (with rota's options), for opening more stores on the same data
    dsn: str = field(repr=False)  # for the driver: rota's options removed
    schema: str = DEFAULT_SCHEMA
    migrate: bool = True
    pool_min: int = 1
    pool_max: int = 10
    connect_timeout: float = 10.0

    def describe(self) -> str:
        parts = urlsplit(redact(self.dsn))
        return f"postgresql://{parts.netloc}{parts.path} (schema {self.schema})"

    def __repr__(self) -> str:
        return (
            f"PostgresConfig(url={redact(self.url)!r}, schema={self.schema!r}, migrate={self.migrate}, "
            f"pool_min={self.pool_min}, pool_max={self.pool_max}, connect_timeout={self.connect_timeout})"
        )

    @classmethod
    def from_url(cls, url: str) -> PostgresConfig:
        """Parse a PostgreSQL store URL; raises ConfigError for bad or unknown options."""
        return _parse(url)


def _parse(url: str) -> PostgresConfig:
    parts = split_url(url)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigError(f"not a PostgreSQL URL: {redact(url)!r}")
    own: dict[str, str] = {}
    passed: list[tuple[str, str]] = []
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name in _OWN_OPTIONS:
            if name in own:
                raise ConfigError(f"option {name!r} is given twice in {redact(url)!r}")
            own[name] = value
        elif name in _DRIVER_OPTIONS:
            passed.append((name, value))
        else:
            known = ", ".join(sorted((*_OWN_OPTIONS, *_DRIVER_OPTIONS)))
            raise ConfigError(f"unknown option {name!r} in PostgreSQL URL {redact(url)!r}; known: {known}")
    schema = own.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_RE.match(schema):
        raise ConfigError(
            f"schema {schema!r} must be 1-48 lower-case letters, digits or '_', not starting with a digit"
        )
    if schema.startswith("pg_") or schema == "information_schema":
        # PostgreSQL's own schemas (pg_catalog, pg_toast, pg_temp_N...): creating rota's tables
        # there would fail half-way, or mix them into the system catalogue
        raise ConfigError(f"schema {schema!r} is a PostgreSQL system schema; choose another (default 'rota')")
    pool_min = _int(own, "pool_min", 1, 0)
    pool_max = _int(own, "pool_max", max(10, pool_min), 1)
    if pool_min > pool_max:
        raise ConfigError(f"pool_min ({pool_min}) must not exceed pool_max ({pool_max})")
    timeout = own.get("connect_timeout", "10")
    try:
        connect_timeout = float(timeout)
    except ValueError:
        raise ConfigError(f"connect_timeout must be a number of seconds, not {timeout!r}") from None
    if not (math.isfinite(connect_timeout) and 0 < connect_timeout <= 3600):
        raise ConfigError(f"connect_timeout must be a number of seconds from 0 to 3600, not {timeout!r}")
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        raise ConfigError(f"the PostgreSQL URL's port must be a number from 1 to 65535: {redact(url)!r}")
    dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(passed)))
    return PostgresConfig(
        url=url,
        dsn=dsn,
        schema=schema,
        migrate=_bool(own, "migrate", default=True),
        pool_min=pool_min,
        pool_max=pool_max,
        connect_timeout=connect_timeout,
    )


def _bool(options: dict[str, str], name: str, *, default: bool) -> bool:
    value = options.get(name)
    return default if value is None else parse_bool(f"option {name}", value)


def _int(options: dict[str, str], name: str, default: int, minimum: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    if not (value.isascii() and value.strip().lstrip("-").isdigit() and len(value) < 10):
        raise ConfigError(f"option {name} must be an integer, not {value!r}")
    number = int(value)
    if not minimum <= number <= 10_000:
        raise ConfigError(f"option {name} must be from {minimum} to 10000, not {number}")
    return number
