"""Configuration precedence (issue #11, defect 6): an explicit argument beats the environment,
which beats the default, resolved once by the App; the seed systems' variable names are
accepted as aliases, and a recognised variable is never ignored silently."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

import rota
from rota import App
from rota.runtime.services import LeaderServices


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for var in list(os.environ):
        if var.startswith(("ROTA_LEADER", "ROTA_INSTANCE", "ROTA_STORE", "ROTA_MAX", "LEADER_ELECTION_")):
            monkeypatch.delenv(var)


async def roles(app: App) -> tuple[str, str, str]:
    """The ids the worker, the election and the health report use for this app."""
    worker = app.worker()
    services = LeaderServices(app.context, scheduler=False, retention=None)
    await services.start()
    try:
        assert services.election is not None
        election_id = services.election.instance_id
        report = await app.health(services.election)
    finally:
        await services.stop()
        await app.close()
    return worker.id, election_id, report.instance_id


async def test_an_explicit_instance_id_beats_the_environment_everywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Before the fix, the worker said 'explicit' and the election 'from-env'."""
    monkeypatch.setenv("ROTA_INSTANCE_ID", "from-env")
    app = App(f"sqlite:///{tmp_path / 'a.db'}", instance_id="explicit")
    assert await roles(app) == ("explicit", "explicit", "explicit")


async def test_the_environment_beats_the_default_everywhere(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROTA_INSTANCE_ID", "from-env")
    app = App(f"sqlite:///{tmp_path / 'a.db'}")
    assert await roles(app) == ("from-env", "from-env", "from-env")
    monkeypatch.delenv("ROTA_INSTANCE_ID")
    generated = App("memory://").instance_id
    assert generated.count(":") == 2  # host:pid:random


async def test_settings_are_resolved_once_when_the_app_is_built(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ROTA_LEADER_ELECTION_TTL", "12")
    app = App(f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("ROTA_LEADER_ELECTION_TTL", "99")  # too late: the app has its settings
    monkeypatch.setenv("ROTA_INSTANCE_ID", "late")
    services = LeaderServices(app.context, scheduler=False, retention=None)
    assert services.settings is app.config.leader
    assert services.settings.ttl == 12.0
    assert app.instance_id != "late"


def test_explicit_store_url_beats_the_environment_which_beats_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert App().config.store_url == "sqlite:///rota.db"
    monkeypatch.setenv("ROTA_STORE_URL", "memory://")
    assert App().config.store_url == "memory://"
    assert App("sqlite:///other.db").config.store_url == "sqlite:///other.db"


def test_seed_aliases_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADER_ELECTION_ENABLED", "false")
    monkeypatch.setenv("LEADER_ELECTION_LOCK_TTL", "15s")
    monkeypatch.setenv("LEADER_ELECTION_RETRY_INTERVAL", "2s")
    monkeypatch.setenv("LEADER_ELECTION_INSTANCE_ID", "instance-1")
    app = App("memory://")
    leader = app.config.leader
    assert (leader.enabled, leader.ttl, leader.retry_interval) == (False, 15.0, 2.0)
    assert app.instance_id == leader.instance_id == "instance-1"


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [("30", 30.0), ("2.5s", 2.5), ("500ms", 0.5), ("2m", 120.0), ("1m30s", 90.0), ("1h", 3600.0)],
)
def test_durations_in_rota_and_go_forms(monkeypatch: pytest.MonkeyPatch, raw: str, seconds: float) -> None:
    monkeypatch.setenv("LEADER_ELECTION_LOCK_TTL", raw)
    assert App("memory://").config.leader.ttl == seconds


@pytest.mark.parametrize(
    ("alias", "name", "alias_value", "value"),
    [
        ("LEADER_ELECTION_LOCK_TTL", "ROTA_LEADER_ELECTION_TTL", "20", "10"),
        ("LEADER_ELECTION_ENABLED", "ROTA_LEADER_ELECTION_ENABLED", "true", "false"),
        ("LEADER_ELECTION_RETRY_INTERVAL", "ROTA_LEADER_ELECTION_RETRY_INTERVAL", "1", "2"),
        ("LEADER_ELECTION_INSTANCE_ID", "ROTA_INSTANCE_ID", "a", "b"),
    ],
)
def test_an_alias_that_disagrees_with_its_rota_name_is_an_error(
    monkeypatch: pytest.MonkeyPatch, alias: str, name: str, alias_value: str, value: str
) -> None:
    monkeypatch.setenv(alias, alias_value)
    monkeypatch.setenv(name, value)
    with pytest.raises(rota.ConfigError, match=f"{alias}=.* and {name}=.* disagree"):
        App("memory://")
    monkeypatch.setenv(name, alias_value)  # the same value twice is fine
    App("memory://")


def test_a_bad_alias_value_names_the_variable_that_was_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADER_ELECTION_LOCK_TTL", "soon")
    with pytest.raises(rota.ConfigError, match="LEADER_ELECTION_LOCK_TTL must be a duration"):
        App("memory://")
    monkeypatch.setenv("LEADER_ELECTION_LOCK_TTL", "nan")
    with pytest.raises(rota.ConfigError, match="LEADER_ELECTION_LOCK_TTL"):
        App("memory://")


def test_recognised_variables_are_never_ignored_silently(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("LEADER_ELECTION_HEARTBEAT", "5s")  # a seed-style name rota does not read
    monkeypatch.setenv("ROTA_INSTANCE_ID", "from-env")
    with caplog.at_level(logging.INFO, logger="rota.settings"):
        app = App("memory://", instance_id="explicit")
    assert app.instance_id == "explicit"
    messages = [r.getMessage() for r in caplog.records]
    assert any("LEADER_ELECTION_HEARTBEAT is not a rota setting" in m for m in messages)
    assert any("ROTA_INSTANCE_ID=from-env is overridden" in m for m in messages)
    monkeypatch.setenv("ROTA_LEADER_ELECTION_TLL", "30")  # a typo in rota's own namespace
    with pytest.raises(rota.ConfigError, match="unknown setting ROTA_LEADER_ELECTION_TLL"):
        App("memory://")


@pytest.mark.parametrize("instance_id", ["", "two words", "a\x00b", 5])
def test_a_bad_explicit_instance_id_is_refused(instance_id: object) -> None:
    with pytest.raises(rota.ConfigError, match="instance_id"):
        App("memory://", instance_id=instance_id)  # type: ignore[arg-type]
