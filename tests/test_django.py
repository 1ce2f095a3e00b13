"""rota.contrib.django: the test project (tests/django_project) run by Django's own test runner
on SQLite and on the throwaway PostgreSQL server, the ``rota_worker`` management command as a
real process (graceful on SIGTERM), and the settings' checks.

Django's settings are global to a process, so each Django run is a subprocess."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

import rota
from rota.contrib.django.conf import RotaSettings
from tests.test_examples import Proc

PROJECT = Path(__file__).parent / "django_project"
DEADLINE = 120.0


def manage(*args: str, env: dict[str, str], timeout: float = DEADLINE) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=PROJECT, env={**os.environ, **env},
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def django_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """The test project's database and rota store: both SQLite files, or both on PostgreSQL
    (Django's test database made on the throwaway server, the store in a fresh schema)."""
    if request.param == "sqlite":
        return {
            "TEST_DJANGO_DB": str(tmp_path / "django.db"),
            "TEST_ROTA_STORE": f"sqlite:///{tmp_path / 'rota.db'}",
        }
    from tests.servers.postgres import with_query

    url = request.getfixturevalue("postgres_server").url
    name = uuid.uuid4().hex[:12]
    return {
        "TEST_DJANGO_DB": url,
        "TEST_DJANGO_TEST_DB": f"test_dj_{name}",
        "TEST_ROTA_STORE": with_query(url, schema=f"dj_{name}"),
    }


def test_the_test_project_passes_under_djangos_test_runner(django_env: dict[str, str]) -> None:
    done = manage("test", "orders", "--noinput", "-v", "2", env=django_env)
    expected = len(re.findall(r"^    def test_", (PROJECT / "orders" / "tests.py").read_text("utf-8"), re.M))
    assert done.returncode == 0, done.stderr
    assert re.search(rf"^Ran {expected} tests? in ", done.stderr, re.M), done.stderr
    assert re.search(r"^OK$", done.stderr, re.M), done.stderr
    if "TEST_DJANGO_TEST_DB" in django_env:  # really on PostgreSQL, in its own test database
        assert (
            f"Creating test database for alias 'default' ('{django_env['TEST_DJANGO_TEST_DB']}')"
            in done.stderr
        )


@pytest.mark.slow
def test_rota_worker_runs_the_committed_orders_jobs_and_stops_on_sigterm(tmp_path: Path) -> None:
    env = {
        "TEST_DJANGO_DB": str(tmp_path / "django.db"),
        "TEST_ROTA_STORE": f"sqlite:///{tmp_path / 'rota.db'}",
    }
    assert manage("migrate", "--noinput", env=env).returncode == 0
    place = (
        "from django.db import transaction\n"
        "from orders.models import Order\n"
        "from orders.tasks import send_receipt\n"
        "from rota.contrib.django import enqueue_on_commit\n"
        "with transaction.atomic():\n"
        "    order = Order.objects.create(email='dee@example.com')\n"
        "    enqueue_on_commit(send_receipt, order.pk)\n"
        "try:\n"
        "    with transaction.atomic():\n"
        "        order = Order.objects.create(email='never@example.com')\n"
        "        enqueue_on_commit(send_receipt, order.pk)\n"
        "        raise RuntimeError\n"
        "except RuntimeError:\n"
        "    pass\n"
        "print('placed')\n"
    )
    placed = manage("shell", "-v", "0", "-c", place, env=env)
    assert placed.stdout.strip() == "placed", placed.stderr

    worker = Proc(["manage.py", "rota_worker", "--concurrency", "2"], cwd=PROJECT, env=env)
    try:
        worker.expect(r"worker .* serving queues default on sqlite")
        worker.expect(r"^receipt sent for order 1 to dee@example\.com$")
        assert worker.stop(signal.SIGTERM) == 0
    finally:
        worker.kill()
    assert any(re.search(r"worker .* stopped$", line) for line in worker.lines), worker.lines
    assert not any("never@example.com" in line for line in worker.lines)  # rolled back: no job

    shown = manage(
        "shell",
        "-v",
        "0",
        "-c",
        "from orders.models import Order; print(Order.objects.get().status)",
        env=env,
    )
    assert shown.stdout.strip() == "receipt sent", shown.stderr  # the handler's ORM write


def test_refused_settings_are_a_system_check_error_not_a_traceback(tmp_path: Path) -> None:
    env = {
        "TEST_DJANGO_DB": str(tmp_path / "django.db"),
        "TEST_ROTA_STORE": f"sqlite:///{tmp_path / 'rota.db'}",
        "TEST_ROTA_EXTRA": '{"WORKER": {"concurrency": 0}}',
    }
    for command in (["check"], ["rota_worker"]):
        done = manage(*command, env=env)
        assert done.returncode == 1, done
        assert "Traceback" not in done.stderr, done.stderr
        assert re.search(r"\(rota\.E001\) settings\.ROTA\[\"WORKER\"\]: concurrency", done.stderr), (
            done.stderr
        )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "must be a dict"),
        ({}, r'ROTA\["APP"\] must name'),
        ({"APP": "x:app", "STORE": "sqlite://"}, r"unknown keys \['STORE'\]"),
        ({"APP": "x:app", "STORE_URL": ""}, "STORE_URL"),
        ({"APP": "x:app", "WORKER": []}, "must be a dict"),
        ({"APP": "x:app", "WORKER": {"threads": 4}}, "threads"),
        ({"APP": "x:app", "WORKER": {"grace": float("nan")}}, "grace"),
    ],
)
def test_settings_are_checked(raw: object, message: str) -> None:
    with pytest.raises(rota.ConfigError, match=message):
        RotaSettings.parse(raw)


def test_importing_the_package_touches_no_django_module() -> None:
    """Regression: rota.contrib.django imported django.db at import time, which made
    Django's lazy settings object (unconfigured in this process) exist; a later test that
    walked gc.get_objects() with isinstance() set it up and got ImproperlyConfigured."""
    code = (
        "import sys, rota.contrib.django, rota.contrib.django.conf\n"
        "print(any(m.startswith('django') for m in sys.modules))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == "False"


def test_good_settings_parse() -> None:
    conf = RotaSettings.parse({"APP": "shop.tasks:app", "WORKER": {"concurrency": 3, "queues": ["a"]}})
    assert (conf.app, conf.store_url, dict(conf.worker)) == (
        "shop.tasks:app",
        None,
        {"concurrency": 3, "queues": ["a"]},
    )
