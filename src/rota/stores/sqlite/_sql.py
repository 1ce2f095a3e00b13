"""SQL kept in resource files beside this module, loaded by name.

``queries/<group>.sql`` holds statements each introduced by a ``-- name: <name>`` line;
``migrations/NNNN_<title>.sql`` are the schema versions, applied in order.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_\w+\.sql$")


@cache
def queries(group: str) -> dict[str, str]:
    """The named statements of ``queries/<group>.sql``."""
    text = resources.files(__package__).joinpath("queries", f"{group}.sql").read_text("utf-8")
    parts = _NAME.split(text)
    # parts = [preamble, name1, body1, name2, body2, ...]
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise RuntimeError(f"query {name!r} defined twice in {group}.sql")
        found[name] = body.strip()
    return found


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration file, in version order; versions must be 1, 2, 3... with no gap."""
    found: list[Migration] = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match is None:
            continue
        text = entry.read_text("utf-8")
        found.append(Migration(int(match.group(1)), entry.name, split_statements(text)))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {migration.name} is out of sequence (want {expected})")
    return tuple(found)


def split_statements(script: str) -> tuple[str, ...]:
    """Split a script into complete statements, so each runs inside our own transaction.

    (``executescript`` would commit first, which is what a migration must not do.)
    """
    statements: list[str] = []
    buffer: list[str] = []
    for line in script.splitlines(keepends=True):
        buffer.append(line)
        candidate = "".join(buffer)
        if sqlite3.complete_statement(candidate):
            stripped = _strip_comments(candidate)
            if stripped:
                statements.append(stripped)
            buffer.clear()
    if _strip_comments("".join(buffer)):
        raise RuntimeError("migration script ends with an incomplete statement")
    return tuple(statements)


def _strip_comments(sql: str) -> str:
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    return "\n".join(lines).strip()
