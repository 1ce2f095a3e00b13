"""The MongoDB store's configuration, from its URL:
``mongodb://[user:pass@]host[:port][,host...]/db?prefix=rota&...``.

rota reads one option of its own, ``prefix`` (the collections' name prefix, default ``rota``);
every other query option must be a standard MongoDB URI option and is handed to the driver
as written. Anything else is a ``ConfigError`` (a misspelt option never goes unnoticed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlunsplit

from pymongo import uri_parser
from pymongo.errors import ConfigurationError

from rota._errors import ConfigError
from rota.stores.url import redact, split_url

DEFAULT_DATABASE = "rota"
DEFAULT_PREFIX = "rota"
# without it a stopped server stalls every call for the driver's default 30 s
DEFAULT_SERVER_SELECTION_MS = "5000"
# the driver waits forever for a reply by default: a wedged server would block every caller,
# and a worker's shutdown with it; a timed-out call is StoreUnavailable and is retried
DEFAULT_SOCKET_TIMEOUT_MS = "30000"

_PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")
_DB_FORBIDDEN = set('/\\. "$')


@dataclass(frozen=True, slots=True)
class MongoConfig:
    """What ``from_url`` understood; ``client_url`` is what the driver gets (it may hold a
    password: it stays out of ``repr()``, which shows the redacted URL instead)."""

    client_url: str = field(repr=False)  # the URL without rota's own options (may hold a password)
    database: str
    prefix: str

    def describe(self) -> str:
        return f"{redact(self.client_url)} (collections {self.prefix}_*)"

    def __repr__(self) -> str:
        url = redact(self.client_url)
        return f"MongoConfig(client_url={url!r}, database={self.database!r}, prefix={self.prefix!r})"

    @classmethod
    def from_url(cls, url: str) -> MongoConfig:
        """Parse a MongoDB store URL; raises ConfigError for a bad URL or option."""
        return _parse(url)


def _parse(url: str) -> MongoConfig:
    parts = split_url(url)
    if parts.scheme.lower() not in ("mongodb", "mongodb+srv"):
        raise ConfigError(f"not a MongoDB URL: {redact(url)!r}")
    if not parts.netloc or not parts.hostname:
        raise ConfigError(f"the MongoDB URL names no host: {redact(url)!r}")
    database = unquote(parts.path.lstrip("/")) or DEFAULT_DATABASE
    if any(c in _DB_FORBIDDEN for c in database) or len(database) > 63:
        raise ConfigError(f"invalid MongoDB database name {database!r} in {redact(url)!r}")

    prefix = DEFAULT_PREFIX
    passed: list[tuple[str, str]] = []
    for key, value in parse_qsl(parts.query, keep_blank_values=True, strict_parsing=False):
        if key == "prefix":
            if not _PREFIX_RE.match(value):
                raise ConfigError(
                    f"invalid prefix={value!r}: use a letter then up to 63 letters, digits, _ or -"
                )
            prefix = value
        else:
            passed.append((key, value))
    if passed:
        try:
            known = uri_parser.split_options(urlencode(passed), validate=True, warn=False)
        except (ConfigurationError, ValueError, TypeError) as exc:
            names = ", ".join(sorted({k for k, _ in passed}))
            raise ConfigError(
                f"bad option in MongoDB URL {redact(url)!r} ({names}): {exc}; rota's own "
                "option is only 'prefix', the rest must be MongoDB URI options"
            ) from None
    else:
        known = {}
    lowered = {k.lower() for k in known}
    if "serverselectiontimeoutms" not in lowered:
        passed.append(("serverSelectionTimeoutMS", DEFAULT_SERVER_SELECTION_MS))
    if "sockettimeoutms" not in lowered:
        passed.append(("socketTimeoutMS", DEFAULT_SOCKET_TIMEOUT_MS))
    client_url = urlunsplit(parts._replace(query=urlencode(passed)))
    if parts.scheme.lower() == "mongodb+srv":
        # checking an SRV URL means DNS lookups; the driver does them when it connects
        return MongoConfig(client_url=client_url, database=database, prefix=prefix)
    try:
        uri_parser.parse_uri(client_url, validate=True, warn=False, connect_timeout=5.0)
    except (ConfigurationError, ValueError, TypeError) as exc:
        raise ConfigError(f"invalid MongoDB URL {redact(url)!r}: {exc}") from None
    return MongoConfig(client_url=client_url, database=database, prefix=prefix)
