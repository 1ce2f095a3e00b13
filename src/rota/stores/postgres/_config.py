"""The PostgreSQL store's URL: ``postgresql://user:pass@host:port/db?schema=rota&migrate=true``.

rota's own options are taken out of the query string; libpq-style connection options that
the driver understands (sslmode, sslrootcert, ...) are passed on; anything else is refused,
so a misspelt option never goes unnoticed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rota._errors import ConfigError
from rota.stores.url import redact

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
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True, slots=True)
class PgConfig:
    url: str  # as given (with rota's options), for opening more stores on the same data
    dsn: str  # for the driver: rota's options removed
    schema: str = DEFAULT_SCHEMA
    migrate: bool = True
    pool_min: int = 1
    pool_max: int = 10
    connect_timeout: float = 10.0

    def describe(self) -> str:
        parts = urlsplit(redact(self.dsn))
        return f"postgresql://{parts.netloc}{parts.path} (schema {self.schema})"


def parse_url(url: str) -> PgConfig:
    parts = urlsplit(url)
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
    pool_min = _int(own, "pool_min", 1, 0)
    pool_max = _int(own, "pool_max", max(10, pool_min), 1)
    if pool_min > pool_max:
        raise ConfigError(f"pool_min ({pool_min}) must not exceed pool_max ({pool_max})")
    timeout = own.get("connect_timeout", "10")
    try:
        connect_timeout = float(timeout)
    except ValueError:
        raise ConfigError(f"connect_timeout must be a number of seconds, not {timeout!r}") from None
    if connect_timeout <= 0:
        raise ConfigError(f"connect_timeout must be positive, not {timeout!r}")
    dsn = urlunsplit(parts._replace(scheme="postgresql", query=urlencode(passed)))
    return PgConfig(
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
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ConfigError(f"option {name} must be true or false, not {value!r}")


def _int(options: dict[str, str], name: str, default: int, minimum: int) -> int:
    value = options.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"option {name} must be an integer, not {value!r}") from None
    if number < minimum:
        raise ConfigError(f"option {name} must be at least {minimum}, not {number}")
    return number
