"""The Alembic migrations shipped in the package: fresh databases, repeats, concurrency, opt-out."""

from __future__ import annotations

import hashlib
import importlib.resources
import multiprocessing
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import setuptools
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from _testclock import ManualClock
from tokenguard import TokenGuard, tokens
from tokenguard.errors import RevokedToken, StoreUnavailable
from tokenguard.models import TokenInfo
from tokenguard.stores.base import TokenRecord
from tokenguard.stores.sql_migrate import alembic_config, head_revision
from tokenguard.stores.sql_schema import VERSION_TABLE, Base
from tokenguard.stores.sqlalchemy import SQLAlchemyStore, upgrade

URL_FIXTURES = {"sqlite": "sqlite_url", "postgresql": "postgres_url", "mariadb": "mysql_url"}
TABLES = {"tokenguard_tokens", "tokenguard_owners", "tokenguard_reminders", VERSION_TABLE}
ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2033, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def sql_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(URL_FIXTURES[request.param]))


@pytest.fixture
def engine(sql_url: str) -> Any:
    made = create_engine(sql_url)
    yield made
    made.dispose()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def versions(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())


def schema_snapshot(engine: Engine) -> dict[str, Any]:
    inspector = inspect(engine)
    return {
        table: (sorted((c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)),
                sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                       for i in inspector.get_indexes(table)),
                inspector.get_pk_constraint(table)["constrained_columns"])
        for table in sorted(inspector.get_table_names())
    }


def a_record() -> TokenRecord:
    info = TokenInfo(id="survivor", owner="alice", name="kept across upgrades",
                     scopes=frozenset({"read"}), created_at=NOW)
    return TokenRecord(info, hashlib.sha256(b"survivor").hexdigest())


def test_a_fresh_database_gets_the_tables_and_indexes(sql_url: str, engine: Engine) -> None:
    upgrade(sql_url)

    assert tables(engine) == TABLES
    assert versions(engine) == [head_revision()]
    inspector = inspect(engine)
    indexes = {i["name"]: (i["column_names"], bool(i["unique"]))
               for i in inspector.get_indexes("tokenguard_tokens")}
    assert indexes["ix_tokenguard_tokens_digest"] == (["digest"], True)
    assert indexes["ix_tokenguard_tokens_owner"] == (["owner"], False)
    assert indexes["ix_tokenguard_tokens_previous_digest"] == (["previous_digest"], False)
    assert indexes["ix_tokenguard_tokens_expires_at"] == (["expires_at"], False)
    assert indexes["ix_tokenguard_tokens_last_used_at"] == (["last_used_at", "created_at"], False)
    assert inspector.get_pk_constraint("tokenguard_tokens")["constrained_columns"] == ["id"]
    assert inspector.get_pk_constraint("tokenguard_owners")["constrained_columns"] == ["owner"]
    assert inspector.get_pk_constraint("tokenguard_reminders")["constrained_columns"] == [
        "token_id", "threshold"]
    digest = next(c for c in inspector.get_columns("tokenguard_tokens") if c["name"] == "digest")
    assert getattr(digest["type"], "length", None) == 64


def test_the_migrations_build_exactly_the_models(sql_url: str, engine: Engine) -> None:
    upgrade(sql_url)
    with engine.connect() as connection:
        options = {"compare_type": True, "version_table": VERSION_TABLE}
        context = MigrationContext.configure(connection, opts=options)
        assert compare_metadata(context, Base.metadata) == []


def test_mariadb_tables_hold_emoji_compare_bytes_and_keep_microseconds(mysql_url: str) -> None:
    upgrade(mysql_url)
    engine = create_engine(mysql_url)
    try:
        with engine.connect() as connection:
            collations = dict(connection.execute(text(
                "SELECT table_name, table_collation FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name LIKE 'tokenguard%'")).all())
            precision = connection.execute(text(
                "SELECT datetime_precision FROM information_schema.columns WHERE "
                "table_schema = DATABASE() AND table_name = 'tokenguard_tokens' "
                "AND column_name = 'created_at'")).scalar_one()
    finally:
        engine.dispose()
    assert collations["tokenguard_tokens"] == collations["tokenguard_owners"] == "utf8mb4_bin"
    assert collations["tokenguard_reminders"] == "utf8mb4_bin"
    assert precision == 6


def test_upgrading_again_changes_nothing(sql_url: str, engine: Engine) -> None:
    upgrade(sql_url)
    store = SQLAlchemyStore(sql_url, migrate=False)
    store.insert(a_record(), limit=None, now=NOW)
    before = schema_snapshot(engine)

    upgrade(sql_url)
    upgrade(engine)

    assert schema_snapshot(engine) == before
    assert versions(engine) == [head_revision()]
    assert store.get("survivor") == a_record()
    store.close()


def test_migrate_false_leaves_the_database_untouched(sql_url: str, engine: Engine) -> None:
    store = SQLAlchemyStore(sql_url, migrate=False)
    with pytest.raises(StoreUnavailable):
        store.list()
    store.close()
    assert tables(engine) == set()


def test_a_store_migrates_on_first_use_not_on_construction(sql_url: str, engine: Engine) -> None:
    store = SQLAlchemyStore(sql_url)
    assert tables(engine) == set()
    assert store.find(a_record().digest) is None  # the first use: the hot path
    assert tables(engine) == TABLES
    store.close()


def test_the_host_apps_own_alembic_history_is_left_alone(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('app_rev_42')"))
        connection.execute(text("CREATE TABLE app_users (id INTEGER PRIMARY KEY)"))

    upgrade(engine)

    assert tables(engine) == TABLES | {"alembic_version", "app_users"}
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).all() == [("app_rev_42",)]
    assert versions(engine) == [head_revision()]


def test_upgrade_leaves_a_given_engine_open(engine: Engine) -> None:
    upgrade(engine)
    pool = engine.pool
    upgrade(engine)
    assert engine.pool is pool and pool.checkedin() >= 1


def upgrade_in_process(url: str, start: Any) -> None:
    start.wait(timeout=60)
    upgrade(url)


def test_concurrent_first_use_by_two_processes(sql_url: str, engine: Engine) -> None:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    processes = [context.Process(target=upgrade_in_process, args=(sql_url, start)) for _ in range(2)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [process.exitcode for process in processes] == [0, 0]
    assert tables(engine) == TABLES
    assert versions(engine) == [head_revision()]


def test_the_migrations_are_shipped_inside_the_package() -> None:
    migrations = importlib.resources.files("tokenguard.stores.migrations")
    assert migrations.joinpath("env.py").is_file()
    assert migrations.joinpath("script.py.mako").is_file()
    assert migrations.joinpath("versions", "0001_initial.py").is_file()
    assert migrations.joinpath("versions", "0002_round_two.py").is_file()
    assert head_revision() == "0002"
    # The wheel takes the .py files of every package found, and the listed data files.
    packages = setuptools.find_packages(str(ROOT / "src"))
    assert {"tokenguard.stores.migrations", "tokenguard.stores.migrations.versions"} <= set(packages)
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"stores/migrations/*.ini", "stores/migrations/*.mako"} <= set(package_data["tokenguard"])


# -- 0002 on a database made by 0001 ---------------------------------------------------------

KEY = "migration-suite-secret-key-0123456789abcdef"


def upgrade_to(engine: Engine, revision: str) -> None:
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)
        connection.commit()


def test_0002_upgrades_a_0001_database_and_every_token_still_authenticates(
    sql_url: str, engine: Engine,
) -> None:
    """Tokens made under 0001 (the 0001 columns alone), then 0002: each still works, unchanged."""
    upgrade_to(engine, "0001")
    assert versions(engine) == ["0001"]
    hasher = tokens.Hasher(KEY)
    columns = ("id, digest, owner, name, scopes, projects, admin, created_at, expires_at, "
               "last_used_at, revoked_at, hint, parent_id")
    values = ":id, :digest, :owner, :name, 'read write', 'alpha', :admin, :created, :expires, " \
             "NULL, :revoked, :hint, NULL"
    # as 0001 keeps times: aware on PostgreSQL (timestamptz), naive UTC on SQLite and MariaDB
    naive_now = NOW if engine.dialect.name == "postgresql" else NOW.replace(tzinfo=None)
    made = {}
    with engine.begin() as connection:  # rows as the 0001 schema holds them, written by hand
        for index, (owner, revoked) in enumerate([("alice", False), ("alice", False), ("bob", True)]):
            secret = tokens.generate("tg")
            connection.execute(text(f"INSERT INTO tokenguard_tokens ({columns}) VALUES ({values})"), {
                "id": f"old-{index}", "digest": hasher.digest(secret), "owner": owner,
                "name": f"made under 0001 #{index}", "admin": False, "created": naive_now,
                "expires": naive_now + timedelta(days=30), "revoked": naive_now if revoked else None,
                "hint": tokens.hint(secret)})
            made[f"old-{index}"] = secret
        for owner in ("alice", "bob"):  # 0001's lock rows: an owner and nothing else
            connection.execute(text("INSERT INTO tokenguard_owners (owner) VALUES (:owner)"),
                               {"owner": owner})
    clock = ManualClock(NOW)

    upgrade(sql_url)

    assert versions(engine) == ["0002"]
    guard = TokenGuard(SQLAlchemyStore(sql_url), secret_key=KEY, clock=clock, load_entry_points=False,
                       cache_ttl=None)
    try:
        for token_id in ("old-0", "old-1"):
            info = guard.authenticate(made[token_id], remote="192.0.2.1", agent="curl/8.5")
            assert (info.id, info.owner, info.scopes, info.projects) == (
                token_id, "alice", {"read", "write"}, {"alpha"})
            assert (info.description, info.allowed_networks) == ("", frozenset())
            assert info.expires_at == NOW + timedelta(days=30)
            stored = guard.get_token(token_id)
            assert (stored.last_used_at, stored.last_used_ip, stored.last_used_agent) == (
                NOW, "192.0.2.1", "curl/8.5")
        with pytest.raises(RevokedToken):
            guard.authenticate(made["old-2"])
        assert guard.is_owner_active("alice") and guard.is_owner_active("bob")
        # the new columns and tables work on the old rows
        assert guard.expiring(timedelta(days=31), owner="alice") == guard.list_tokens("alice")
        assert guard.remind() == 2
        assert guard.deactivate_owner("alice") == 2
        assert not guard.is_owner_active("alice")
    finally:
        guard.close()
