"""The documentation site builds with ``mkdocs build --strict`` (as ``make docs`` does), and
what is generated from the code is complete: the API reference has every name ``rota``
exports, the CLI reference every command and option of the real parsers, the examples
section every example. A broken link or reference fails the build."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import rota
from rota.cli import build_parser
from tests.multiprocess._procs import ROOT

BUILD_TIMEOUT = 120


def mkdocs_build(config: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """``mkdocs build --strict`` as ``make docs`` runs it (never ``--quiet``: that hides the
    warnings from the strict check)."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(site)],
        cwd=config.parent, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"}, capture_output=True, text=True,
        timeout=BUILD_TIMEOUT, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site, built once for this module with the repository's mkdocs.yml."""
    out = tmp_path_factory.mktemp("site")
    done = mkdocs_build(ROOT / "mkdocs.yml", out)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    return out


def page(site: Path, name: str) -> str:
    return (site / name / "index.html").read_text("utf-8")


def anchors(html: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', html))


# -- API reference ----------------------------------------------------------------------------


def test_the_api_reference_documents_every_exported_name(site: Path) -> None:
    ids = anchors(page(site, "api"))
    exported = set(rota.__all__)
    assert len(exported) > 30
    missing = sorted(name for name in exported if f"rota.{name}" not in ids)
    assert not missing, f"exported but not in the API reference: {missing}"


@pytest.mark.parametrize(
    "module", ["rota.testing", "rota.testing.conformance"], ids=lambda m: m.replace(".", "_")
)
def test_the_api_reference_documents_the_public_testing_modules(site: Path, module: str) -> None:
    ids = anchors(page(site, "api"))
    names = importlib.import_module(module).__all__
    assert names
    assert sorted(n for n in names if f"{module}.{n}" not in ids) == []


def test_the_api_reference_renders_docstrings_and_signatures(site: Path) -> None:
    html = page(site, "api")
    # a docstring of the code, a parameter of a signature, and the store contract
    assert "Queue one job: now, after" in html  # Task.enqueue
    assert "wait_until_idle" in html and "timeout" in html
    assert 'id="rota.stores.base.Store.claim"' in html


# -- CLI reference ----------------------------------------------------------------------------


def walk(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from walk(sub)


def test_the_cli_reference_has_every_command_and_option_of_the_parsers(site: Path) -> None:
    html = page(site, "cli")
    text = re.sub(r"<[^>]+>", "", html).replace("&lt;", "<").replace("&gt;", ">")
    commands = list(walk(build_parser()))
    assert len(commands) > 15  # worker, scheduler, enqueue, jobs ..., schedules ..., status, db ...
    for parser in commands:
        slug = parser.prog.replace(" ", "-")
        assert f'id="{slug}"' in html, f"no section for {parser.prog!r}"
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            for flag in action.option_strings:
                assert flag in text, f"{parser.prog}: option {flag} is not in the CLI reference"
            if action.help and not isinstance(action, argparse._SubParsersAction):
                assert action.help in text, f"{parser.prog}: help of {action.dest!r} is missing"


def test_the_cli_reference_is_generated_not_written() -> None:
    assert not (ROOT / "docs" / "cli.md").exists()
    assert not (ROOT / "docs" / "api.md").exists()
    assert not (ROOT / "docs" / "index.md").exists()  # the front page is README.md


# -- front page, examples, offline ------------------------------------------------------------


def test_the_front_page_is_the_readme_with_working_links(site: Path) -> None:
    html = (site / "index.html").read_text("utf-8")
    assert "One job per schedule fire" in html
    assert 'href="schedules/"' in html and 'href="coordination/"' in html
    assert 'href="docs/' not in html


def test_every_example_has_a_page_with_its_code(site: Path) -> None:
    examples = sorted(p.parent.name for p in (ROOT / "examples").glob("*/README.md"))
    assert examples
    index = page(site, "examples")
    for name in examples:
        assert f'href="{name}/"' in index, name
        html = page(site, f"examples/{name}")
        for source in sorted((ROOT / "examples" / name).glob("*.py")):
            assert f"<code>{source.name}</code>" in html, (name, source.name)


def test_the_site_loads_nothing_from_other_hosts(site: Path) -> None:
    """Google Fonts are off (font: false) and no page loads a script, stylesheet or font from
    a CDN: the site works offline and tells no third party who reads it."""
    pages = list(site.rglob("*.html"))
    assert len(pages) > 20
    for path in pages:
        html = path.read_text("utf-8")
        assert "fonts.googleapis.com" not in html and "fonts.gstatic.com" not in html, path
        loaded = re.findall(r'<script\b[^>]*\bsrc="(https?:[^"]*)"|<link\b[^>]*\bhref="(https?:[^"]*)"', html)
        assert not loaded, (path, loaded)


# -- strictness -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mistake", "reported"),
    [
        ("See [the missing page](no-such-page.md).", "no-such-page.md"),
        ("::: rota.NoSuchName", "rota.NoSuchName"),
    ],
    ids=["broken-link", "missing-reference"],
)
def test_a_broken_link_or_reference_fails_the_build(tmp_path: Path, mistake: str, reported: str) -> None:
    """The repository's configuration on a copy of the docs with one mistake added: the strict
    build fails and names it."""
    # the repository's layout, with a copy of the docs and links to the rest
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copytree(ROOT / "scripts", tmp_path / "scripts")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    for name in ("README.md", "examples", "src"):
        (tmp_path / name).symlink_to(ROOT / name)
    with (tmp_path / "docs" / "memory.md").open("a", encoding="utf-8") as f:
        f.write(f"\n{mistake}\n")
    config = tmp_path / "mkdocs.yml"
    done = mkdocs_build(config, tmp_path / "site")
    assert done.returncode != 0, done.stderr
    assert reported in done.stdout + done.stderr
