"""Helpers for fixtures that start throwaway servers on free loopback ports."""

from __future__ import annotations

import os
import shutil
import socket

import pytest


def required(backend: str) -> bool:
    """Whether a missing server for ``backend`` must fail the run (CI) instead of skipping."""
    wanted = os.environ.get("ROTA_REQUIRE_BACKENDS", "")
    names = {n.strip() for n in wanted.split(",") if n.strip()}
    return "all" in names or backend in names


def unavailable(backend: str, reason: str) -> None:
    """Skip the test, or fail it when the backend is required (ROTA_REQUIRE_BACKENDS)."""
    message = f"{backend} server unavailable: {reason}"
    if required(backend):
        pytest.fail(message + " (required by ROTA_REQUIRE_BACKENDS)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def find_binary(name: str, *extra_dirs: str) -> str | None:
    """Find a server binary on PATH, in the project's .servers/bin, or in ``extra_dirs``."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    path = os.pathsep.join([os.path.join(root, ".servers", "bin"), *extra_dirs, os.environ.get("PATH", "")])
    return shutil.which(name, path=path)
