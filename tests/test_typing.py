"""Payload types reach the caller: ``mypy --strict`` over a small file of user code
(tests/typing/payloads.py) accepts what is right and refuses a wrong payload or option.

The wrong lines carry ``# type: ignore[code]``; ``--strict`` reports an ignore that is not
needed, so a wrong payload the types let through fails this test, and so does an error of
another kind than the one expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

USER_CODE = Path(__file__).parent / "typing" / "payloads.py"


def test_mypy_accepts_right_payloads_and_refuses_wrong_ones(tmp_path: Path) -> None:
    wrong = [n for n, line in enumerate(USER_CODE.read_text().splitlines(), 1) if "# type: ignore[" in line]
    assert len(wrong) >= 10  # the file still holds the wrong calls it is meant to check
    config = tmp_path / "mypy.ini"  # a user's settings, not this project's
    config.write_text("[mypy]\n")
    result = subprocess.run(
        [
            sys.executable, "-m", "mypy", "--strict", "--warn-unused-ignores", "--no-error-summary",
            "--config-file", str(config), "--cache-dir", str(tmp_path / "cache"),
            str(USER_CODE),
        ],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert (result.returncode, result.stdout) == (0, ""), result.stdout + result.stderr
