"""MkDocs hooks: the pages that must never drift from the code are generated at build time.

* ``index.md``: README.md itself (its links into ``docs/`` made relative to the site);
* ``cli.md``: every command, argument and option of ``rota.cli.build_parser()``;
* ``api.md``: a mkdocstrings block for every name in ``rota.__all__`` (a name nobody grouped
  still gets one, under "Everything else"), and for the public names of ``rota.sync``,
  ``rota.testing`` and ``rota.testing.conformance``;
* ``examples/<name>.md``: each example's README followed by its code.

Nothing here touches the network: the build works offline once the ``docs`` extra is installed.
"""

from __future__ import annotations

import argparse
import functools
import re
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

# -- the front page ---------------------------------------------------------------------------

_DOCS_LINK = re.compile(r"\]\(docs/")


def index_page() -> str:
    """README.md with its ``docs/x.md`` links pointing at the site's pages."""
    return _DOCS_LINK.sub("](", (ROOT / "README.md").read_text("utf-8"))


# -- the CLI reference ------------------------------------------------------------------------


def cli_page() -> str:
    from rota.cli import build_parser

    out = [
        "# CLI reference",
        "",
        "Generated from the argument parsers of `rota.cli` when the site is built, so it lists",
        "exactly what the installed `rota` accepts. Every failure a user can cause ends in one",
        "line on stderr and exit code 1 (`ROTA_DEBUG=1` adds the traceback of an unexpected one).",
        "",
    ]
    _command(build_parser(), "", 2, out)
    return "\n".join(out) + "\n"


def _command(parser: argparse.ArgumentParser, help_text: str, level: int, out: list[str]) -> None:
    parser.formatter_class = functools.partial(argparse.HelpFormatter, width=88)
    out += [f"{'#' * min(level, 6)} `{parser.prog}`", ""]
    if help_text or parser.description:
        out += [_sentence(parser.description or help_text), ""]
    out += ["```text", parser.format_usage().strip(), "```", ""]
    rows = [_row(action) for action in parser._actions if _documented(action)]
    if rows:
        out += ["| argument | default | meaning |", "|---|---|---|", *rows, ""]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help or "" for a in action._choices_actions}
            for name, sub in action.choices.items():
                _command(sub, helps.get(name, ""), level + 1, out)


def _documented(action: argparse.Action) -> bool:
    return not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))


def _row(action: argparse.Action) -> str:
    if action.option_strings:
        metavar = "" if action.nargs == 0 else f" {action.metavar or action.dest.upper()}"
        name = ", ".join(f"`{flag}{metavar}`" for flag in action.option_strings)
    else:
        name = f"`{action.metavar or action.dest}`"
        if action.nargs == "?":
            name += " (optional)"
    default = action.default
    shown = "" if default in (None, False, argparse.SUPPRESS) or action.nargs == 0 else f"`{default}`"
    if action.required and action.option_strings:
        shown = "required"
    return f"| {name} | {shown} | {_cell(action.help or '')} |"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _sentence(text: str) -> str:
    text = text.strip()
    if not text.startswith("rota"):  # the program's name stays lower case
        text = text[:1].upper() + text[1:]
    return text + ("" if text.endswith(".") else ".")


# -- the API reference ------------------------------------------------------------------------

#: How ``rota.__all__`` is presented; names missing here still appear (under "Everything
#: else"), names here that ``rota`` no longer exports fail the build.
API_GROUPS: dict[str, list[str]] = {
    "Application and tasks": [
        "App", "AppConfig", "Task", "TaskOptions", "TaskDecorator", "JobSpec", "EnqueueOptions",
        "RetryPolicy", "Retry", "Cancel",
    ],
    "Jobs and their history": ["Job", "JobStatus", "Attempt", "Outcome"],
    "Schedules and triggers": [
        "Schedules", "ScheduleInfo", "Schedule", "MisfirePolicy", "OverlapPolicy", "Cron", "Every", "At",
    ],
    "Workers and schedulers": ["Worker", "WorkerSettings", "WorkerCounters", "Scheduler", "RuntimeContext"],
    "Leader election and locks": [
        "LeaderElection", "LeaderInfo", "LeaderSettings", "LeaseOptions", "LeaseTiming", "Lock", "Fence",
    ],
    "Health": ["Health", "QueueDepth", "QueueStats"],
    "Events": ["Event", "EventKind"],
    "Time": ["Clock", "SystemClock", "Timer"],
}  # fmt: skip

#: Public modules beside ``rota`` itself: module -> (title, names, per-name options).
MODULES: dict[str, tuple[str, list[str] | None, dict[str, dict[str, Any]]]] = {
    "rota.sync": ("Blocking facade: `rota.sync`", ["SyncApp"], {}),
    "rota.testing": ("Testing: `rota.testing`", None, {}),
    "rota.testing.conformance": (
        "Store conformance suite: `rota.testing.conformance`",
        None,
        # hundreds of test methods: the class docstring says how to use it
        {"StoreConformance": {"members": False}},
    ),
    "rota.stores.base": ("The store interface: `rota.stores.base`", ["Store"], {}),
}


def api_page() -> str:
    import importlib

    import rota
    from rota import RotaError

    exported = [n for n in rota.__all__ if n != "__version__"]
    unknown = sorted({n for names in API_GROUPS.values() for n in names} - set(exported))
    if unknown:
        raise ValueError(f"docs API groups name what rota does not export: {', '.join(unknown)}")
    errors = [n for n in exported if isinstance(obj := getattr(rota, n), type) and issubclass(obj, RotaError)]
    groups = {**API_GROUPS, "Errors": errors}
    grouped = {n for names in groups.values() for n in names}
    rest = [n for n in exported if n not in grouped]
    if rest:
        groups["Everything else"] = rest

    out = [
        "# API reference",
        "",
        "Generated from the docstrings and type hints of the code when the site is built: every",
        "name `rota` exports (`rota.__all__`) is here, then the other public modules. The",
        f"installed version is `rota.__version__` (`{rota.__version__}` for this build).",
        "",
    ]
    for title, group in groups.items():
        out += [f"## {title}", ""]
        out += [block for name in group for block in (f"::: rota.{name}", "")]
    out += ["## Version", "", "::: rota.__version__", ""]
    for module_name, (title, listed, options) in MODULES.items():
        module = importlib.import_module(module_name)
        names = listed if listed is not None else list(module.__all__)
        out += [f"## {title}", ""]
        for name in names:
            out.append(f"::: {module_name}.{name}")
            for key, value in options.get(name, {}).items():
                out += ["    options:", f"      {key}: {str(value).lower()}"]
            out.append("")
    return "\n".join(out)


# -- the examples -----------------------------------------------------------------------------

_CODE_SUFFIXES = {".py": "python", ".sh": "sh", ".toml": "toml"}


def example_dirs() -> list[Path]:
    return sorted(p for p in EXAMPLES.iterdir() if (p / "README.md").is_file())


def example_page(directory: Path) -> str:
    text = (directory / "README.md").read_text("utf-8").rstrip() + "\n"
    for path in sorted(directory.iterdir()):
        lang = _CODE_SUFFIXES.get(path.suffix)
        if lang is None or path.name.startswith("."):
            continue
        text += f"\n## `{path.name}`\n\n```{lang}\n{path.read_text('utf-8').rstrip()}\n```\n"
    return text


def examples_index() -> str:
    out = [
        "# Examples",
        "",
        "Small projects that run as they are, each from its own folder under `examples/` in the",
        "repository. The test suite runs every one of them end to end (`tests/test_examples.py`).",
        "",
        "| example | folder | what it shows |",
        "|---|---|---|",
    ]
    for directory in example_dirs():
        title, summary = _title_and_summary(directory / "README.md")
        out.append(f"| [{title}]({directory.name}.md) | `examples/{directory.name}` | {_cell(summary)} |")
    return "\n".join(out) + "\n"


def _title_and_summary(readme: Path) -> tuple[str, str]:
    lines = readme.read_text("utf-8").splitlines()
    title = lines[0].lstrip("# ").strip()
    paragraph: list[str] = []
    for line in lines[1:]:
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    return title, " ".join(paragraph)


# -- the hook ---------------------------------------------------------------------------------


def on_files(files: Files, config: MkDocsConfig) -> Files:
    pages = {"index.md": index_page(), "cli.md": cli_page(), "api.md": api_page()}
    pages["examples/index.md"] = examples_index()
    for directory in example_dirs():
        pages[f"examples/{directory.name}.md"] = example_page(directory)
    for uri, content in pages.items():
        existing = files.get_file_from_path(uri)
        if existing is not None:
            raise ValueError(f"docs/{uri} is generated at build time; remove the file")
        files.append(File.generated(config, uri, content=content))
    return files


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """List every example in the nav under "Examples" (after its index page)."""
    entries: list[Any] = ["examples/index.md"]
    for directory in example_dirs():
        title, _ = _title_and_summary(directory / "README.md")
        entries.append({title: f"examples/{directory.name}.md"})
    for item in config.nav or []:
        if isinstance(item, dict) and "Examples" in item:
            item["Examples"] = entries
    return config
