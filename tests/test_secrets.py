"""Secrets never reach a message, a repr, a log or the terminal (issue #11, defect 7), and the
stores refuse URLs and servers that do not match (bad Redis port or database, a cluster flag
for a standalone server, PostgreSQL system schemas, a wrong PostgreSQL password)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rota
from rota import App
from rota.cli import main

SECRET = "hunter2-s3cret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://u:{SECRET}@127.0.0.1:5432/db?password={SECRET}&shema=x",
        f"postgresql://u@127.0.0.1/db?password={SECRET}&bogus=1",
        f"postgresql://u:{SECRET}@127.0.0.1/db?sslpassword={SECRET}&migrate=maybe",
        f"redis://:{SECRET}@127.0.0.1:6379/0?password={SECRET}",
        f"redis://u:{SECRET}@127.0.0.1:6379/0?prefix={{x}}",
        f"redis://u:{SECRET}@127.0.0.1:99999/0",
        f"rediss://u:{SECRET}@127.0.0.1:6379/abc",
        f"sqlite:///x.db?password={SECRET}",
        f"sqlite://u:{SECRET}@host/x.db",
        f"memory://u:{SECRET}@x",
        f"mongodb://u:{SECRET}@127.0.0.1:1/db?bogus=1&password={SECRET}",
        f"mongodb://u:{SECRET}@127.0.0.1:1/d.b",
        f"mysql://u:{SECRET}@127.0.0.1/db?password={SECRET}",
    ],
)
def test_url_errors_never_print_a_password(url: str) -> None:
    with pytest.raises(rota.ConfigError) as info:
        rota.App(url).store  # noqa: B018 - building the store parses the URL
    message = str(info.value)
    assert SECRET not in message
    if "://" in message:  # the URL is quoted: redacted
        assert "***" in message


def test_reprs_and_store_url_hold_no_password_in_clear() -> None:
    from rota.stores.mongodb import MongoConfig
    from rota.stores.postgres import PostgresConfig
    from rota.stores.postgres import from_url as pg_store
    from rota.stores.redis import RedisConfig
    from rota.stores.redis import from_url as redis_store

    pg = pg_store(f"postgresql://u:{SECRET}@127.0.0.1/db?sslpassword={SECRET}&sslmode=prefer")
    redis = redis_store(f"redis://u:{SECRET}@127.0.0.1:6379/0?prefix=p")
    shown = [
        repr(PostgresConfig.from_url(f"postgresql://u:{SECRET}@127.0.0.1/db?password={SECRET}")),
        repr(pg.config), pg.url, pg.describe(),
        repr(RedisConfig.from_url(f"redis://:{SECRET}@127.0.0.1:6379/0")),
        repr(redis.config), redis.describe(),
        repr(MongoConfig.from_url(f"mongodb://u:{SECRET}@127.0.0.1:27017/db?authSource=admin")),
    ]  # fmt: skip
    for text in shown:
        assert SECRET not in text, text
        assert "***" in text, text
    # the real values are still there for the drivers
    assert SECRET in pg.config.dsn
    assert SECRET in redis.config.url


def test_the_cli_prints_one_line_without_the_password(capsys: pytest.CaptureFixture[str]) -> None:
    for url in (
        f"postgresql://u:{SECRET}@127.0.0.1:1/db?password={SECRET}&shema=x",
        f"redis://:{SECRET}@127.0.0.1:1/0?password={SECRET}",
    ):
        assert main(["jobs", "list", "--store", url]) == 1
        out, err = capsys.readouterr()
        assert SECRET not in out + err
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("rota: error: ")


async def test_health_of_an_unreachable_store_holds_no_password() -> None:
    app = App(f"postgresql://u:{SECRET}@127.0.0.1:1/db?password={SECRET}&connect_timeout=2")
    report = await app.health()
    assert not report.store_ok
    assert SECRET not in json.dumps(report.to_dict())


def test_scrub_redacts_every_url_in_a_message() -> None:
    from rota.stores.url import scrub

    text = f"failed: 'postgresql://u:{SECRET}@h/db?password={SECRET}' then redis://:{SECRET}@h:1/0 down"
    assert SECRET not in scrub(text)
    assert "postgresql://u:***@h/db?password=***" in scrub(text)


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(["postgresql", "redis", "rediss", "mongodb", "sqlite", "memory", "x"]),
    user=st.text(st.characters(codec="ascii", exclude_characters=":@/?#"), max_size=8),
    password=st.text(alphabet="ABCDEFGHJKLMNPQRSTUVWXYZ", min_size=12, max_size=20),
    host=st.sampled_from(["127.0.0.1", "h", "[::1]", "h1,h2"]),
    option=st.sampled_from(["password", "sslpassword", "Password", "authMechanismProperties", "token"]),
    junk=st.text(st.characters(exclude_categories=["Lu"]), max_size=20),
)
def test_redact_hides_any_password_and_never_raises(
    scheme: str, user: str, password: str, host: str, option: str, junk: str
) -> None:
    from rota.stores.url import redact, scrub

    url = f"{scheme}://{quote(user)}:{password}@{host}/db?a=1&{option}={password}#{junk}"
    assert password not in redact(url)
    assert password not in scrub(f"error at {url} and more")
    assert isinstance(redact(junk), str)  # any text at all: a redaction must never raise


# -- PostgreSQL: a wrong password is a one-line store error -----------------------------------


@pytest.fixture
def password_user(postgres_server: object) -> Iterator[tuple[str, str]]:
    """A role that must log in with a password over TCP (the test cluster trusts everyone
    else): pg_hba.conf gets one scram line for it, written by the server itself."""
    import asyncio

    import asyncpg

    url: str = postgres_server.url  # type: ignore[attr-defined]
    role = f"rota_pw_{uuid.uuid4().hex[:8]}"

    async def admin(add: bool) -> None:
        conn = await asyncpg.connect(url)
        try:
            hba = await conn.fetchval("SHOW hba_file")
            text = await conn.fetchval("SELECT pg_read_file($1)", hba)
            line = f"host all {role} 127.0.0.1/32 scram-sha-256"
            lines = [x.replace("\t", " ") for x in text.splitlines() if x.strip() != line]
            if add:
                await conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD 'right-{SECRET}'")
                lines.insert(0, line)
            else:
                await conn.execute(f"DROP ROLE IF EXISTS {role}")
            literal = "ARRAY[" + ",".join("$$" + x + "$$" for x in lines) + "]"
            await conn.execute(f"COPY (SELECT unnest({literal})) TO '{hba}'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    asyncio.run(admin(True))
    try:
        host_part = url.split("@", 1)[1].split("/", 1)[0]
        yield role, host_part
    finally:
        asyncio.run(admin(False))


@pytest.mark.postgres
def test_a_wrong_postgres_password_is_a_one_line_store_error(
    password_user: tuple[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix: 'rota: unexpected error: InvalidPasswordError: ...'."""
    import asyncio

    role, host = password_user
    wrong = f"postgresql://{role}:wrong-{SECRET}@{host}/postgres?schema=rota_pw"

    async def open_store() -> None:
        app = App(wrong)
        try:
            await app.open()
        finally:
            await app.close()

    with pytest.raises(rota.StoreError) as info:
        asyncio.run(open_store())
    assert not isinstance(info.value, rota.StoreUnavailable)  # not retried forever
    message = str(info.value)
    assert "password authentication failed" in message
    assert SECRET not in message and "\n" not in message

    assert main(["jobs", "list", "--store", wrong]) == 1
    out, err = capsys.readouterr()
    assert err.startswith("rota: error: PostgreSQL at ")
    assert "unexpected" not in err and SECRET not in out + err
    assert len(err.strip().splitlines()) == 1
    right = f"postgresql://{role}:right-{SECRET}@{host}/postgres?schema=rota_pw&migrate=false"
    assert main(["jobs", "list", "--store", right]) == 1  # logged in: the schema is missing
    _, err = capsys.readouterr()
    assert "password" not in err and "rota db migrate" in err


@pytest.mark.parametrize(
    "schema", ["pg_catalog", "information_schema", "pg_toast", "pg_temp_3", "pg_anything"]
)
def test_postgres_system_schemas_are_refused(schema: str) -> None:
    with pytest.raises(rota.ConfigError, match="system schema"):
        App(f"postgresql://127.0.0.1/db?schema={schema}").store  # noqa: B018


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://127.0.0.1:99999/0", "port"),
        ("redis://127.0.0.1:0/0", "port"),
        ("redis://127.0.0.1:x/0", "port"),
        ("redis://127.0.0.1/abc", "database"),
        ("redis://127.0.0.1/-1", "database"),
        ("redis://127.0.0.1/1?db=2", "database 1 and db=2"),
        ("redis://127.0.0.1/0?db=x", "database"),
        ("redis://127.0.0.1/3?cluster=true", "only database 0"),
        ("redis:///0", "no host"),
        ("redis://127.0.0.1/0?socket_timeout=nan", "socket_timeout"),
        ("redis://127.0.0.1/0?max_connections=0", "max_connections"),
        ("redis://127.0.0.1/0?socket_keepalive=maybe", "socket_keepalive"),
        ("postgresql://127.0.0.1:99999/db", "port"),
        ("postgresql://127.0.0.1/db?pool_max=100000000000", "pool_max"),
        ("postgresql://127.0.0.1/db?connect_timeout=inf", "connect_timeout"),
    ],
)
def test_bad_store_url_values_are_refused_when_the_store_is_built(url: str, message: str) -> None:
    with pytest.raises(rota.ConfigError, match=message):
        App(url).store  # noqa: B018


@pytest.mark.redis
async def test_cluster_flag_against_a_standalone_server_is_a_clear_error(redis_url: str) -> None:
    app = App(redis_url.split("?", 1)[0] + "?cluster=true&prefix=x")
    with pytest.raises(rota.ConfigError, match="standalone Redis server, not a cluster node"):
        await app.open()
    await app.close()


@pytest.mark.rediscluster
async def test_a_standalone_url_against_a_cluster_node_is_a_clear_error(rediscluster_url: str) -> None:
    base = rediscluster_url.split("?", 1)[0]
    app = App(base + "?prefix=x")
    with pytest.raises(rota.ConfigError, match="is a Redis Cluster node: add \\?cluster=true"):
        await app.open()
    await app.close()


@pytest.mark.redis
def test_a_wrong_redis_password_is_a_one_line_store_error(
    redis_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before the fix: redis-py's AuthenticationError is a ConnectionError, so it was taken for
    an outage (StoreUnavailable) and a worker retried it for ever."""
    import asyncio

    import redis.asyncio as aioredis

    user = f"rota-pw-{uuid.uuid4().hex[:8]}"

    async def acl(*args: str) -> None:
        client = aioredis.from_url(redis_url)
        try:
            await client.execute_command("ACL", *args)
        finally:
            await client.aclose()

    asyncio.run(acl("SETUSER", user, "on", f">right-{SECRET}", "~*", "&*", "+@all"))
    try:
        host = redis_url.split("//", 1)[1].split("/", 1)[0]
        wrong = f"redis://{user}:wrong-{SECRET}@{host}/0"

        async def open_store() -> None:
            app = App(wrong)
            try:
                await app.open()
            finally:
                await app.close()

        with pytest.raises(rota.StoreError) as info:
            asyncio.run(open_store())
        assert not isinstance(info.value, rota.StoreUnavailable)  # not retried forever
        assert SECRET not in str(info.value) and "\n" not in str(info.value)
        assert main(["jobs", "list", "--store", wrong]) == 1
        out, err = capsys.readouterr()
        assert err.startswith("rota: error: redis refused the credentials")
        assert SECRET not in out + err and len(err.strip().splitlines()) == 1
        right = f"redis://{user}:right-{SECRET}@{host}/0"
        assert main(["jobs", "list", "--store", right]) == 0
    finally:
        asyncio.run(acl("DELUSER", user))
