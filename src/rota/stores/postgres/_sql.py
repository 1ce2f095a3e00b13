"""SQL resource files: ``queries.sql`` (blocks named ``-- name: x``) and ``migrations/``."""

from __future__ import annotations

import functools
import re
from importlib import resources

_NAME_RE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION_RE = re.compile(r"^(\d{4})_\w+\.sql$")


@functools.cache
def _queries() -> dict[str, str]:
    text = resources.files(__package__).joinpath("queries.sql").read_text("utf-8")
    pieces = _NAME_RE.split(text)
    # pieces: [preamble, name1, body1, name2, body2, ...]
    found = {pieces[i]: pieces[i + 1].strip() for i in range(1, len(pieces), 2)}
    return {name: body.rstrip(";").strip() for name, body in found.items()}


def query(name: str) -> str:
    """The statement named ``name`` in queries.sql (KeyError for a typo: a bug, not input)."""
    return _queries()[name]


@functools.cache
def migrations() -> tuple[tuple[int, str, str], ...]:
    """(version, file name, SQL) of every migration, in version order."""
    folder = resources.files(__package__).joinpath("migrations")
    found: list[tuple[int, str, str]] = []
    for entry in folder.iterdir():
        match = _MIGRATION_RE.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if versions != list(range(1, len(versions) + 1)):
        raise RuntimeError(f"migrations must be numbered 1..n without gaps, got {versions}")
    return tuple(found)


def latest_version() -> int:
    return len(migrations())
