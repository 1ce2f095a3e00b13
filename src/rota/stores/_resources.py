"""SQL and Lua kept in resource files beside each backend, loaded by name.

A backend package holds ``queries/<group>.sql`` (statements, each introduced by a
``-- name: <name>`` line), ``migrations/NNNN_<title>.sql`` (schema versions, applied in
order) or ``scripts/<name>.lua`` (Redis scripts). Each is read once: from the package's
directory when it is one (a checkout, an installed wheel), else through importlib.resources,
so a package inside a zip works too. importlib.resources is imported only then: it brings
zipfile, shutil, bz2 and lzma, about 1 MB of a worker's resident memory.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)
_MIGRATION = re.compile(r"^(\d{4})_\w+\.sql$")


def files(package: str) -> Traversable:
    """The root of ``package``'s resource files."""
    for entry in getattr(importlib.import_module(package), "__path__", ()):
        directory = Path(entry)
        if directory.is_dir():
            return directory
    from importlib import resources

    return resources.files(package)


def read(package: str, *path: str) -> str:
    """The text of the resource file at ``path`` inside ``package``."""
    return files(package).joinpath(*path).read_text("utf-8")


@cache
def queries(package: str, group: str) -> dict[str, str]:
    """The named statements of ``queries/<group>.sql`` (a trailing ``;`` removed)."""
    parts = _NAME.split(read(package, "queries", f"{group}.sql"))
    # parts = [preamble, name1, body1, name2, body2, ...]
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in found:
            raise RuntimeError(f"query {name!r} is defined twice in {package} {group}.sql")
        found[name] = body.strip().rstrip(";").strip()
    return found


class Migration(NamedTuple):
    version: int
    name: str  # the file name
    sql: str


@cache
def migrations(package: str) -> tuple[Migration, ...]:
    """Every file of ``migrations/``, in version order: versions from 1 up, each once (a gap is
    allowed, so that changes made side by side can each number their own; the runners apply
    every version a database has not recorded, whatever the highest one it has)."""
    found: list[Migration] = []
    for entry in files(package).joinpath("migrations").iterdir():
        match = _MIGRATION.match(entry.name)
        if match is not None:
            found.append(Migration(int(match.group(1)), entry.name, entry.read_text("utf-8")))
    found.sort()
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions) or (versions and versions[0] < 1):
        raise RuntimeError(f"{package} migrations must be numbered from 1 up, each once, got {versions}")
    return tuple(found)
