"""Starting rota processes for multi-process tests, and reading their signals."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def rota_process(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    """Start ``rota ARGS`` from the repository root with extra environment variables."""
    full_env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "rota.cli", *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_for_line(proc: subprocess.Popen[str], expected: str) -> None:
    """Block until the process prints ``expected`` on a line of its own (or fails)."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == expected:
            return
    _, err = proc.communicate()
    raise AssertionError(f"process exited ({proc.returncode}) before printing {expected!r}: {err}")
