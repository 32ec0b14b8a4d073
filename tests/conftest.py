"""Shared fixtures: real database servers, isolated per test, never silently skipped in CI.

A server that is not reachable skips the tests that need it, unless
TOKENGUARD_REQUIRE_SERVICES=1 (set by .ci/run): then it is a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from typing import Any

import pytest

pytest_plugins = ["_leakcheck"]  # no clear token in logs, exceptions or stderr
REQUIRE_SERVICES = os.environ.get("TOKENGUARD_REQUIRE_SERVICES") == "1"
PG_HOST, PG_PORT = "127.0.0.1", 5432
MYSQL_HOST, MYSQL_PORT = "127.0.0.1", 3306
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379



def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, host: str, port: int) -> None:
    """Skip (or fail, when services are required) if the server is not listening."""
    if _reachable(host, port):
        return
    message = f"{name} is not reachable on {host}:{port}"
    if REQUIRE_SERVICES:
        pytest.fail(f"{message} and TOKENGUARD_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def _fresh_name() -> str:
    return "tg_" + secrets.token_hex(6)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A URL to a fresh, empty PostgreSQL database, dropped afterwards."""
    require_service("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg

    name = _fresh_name()
    admin = f"host={PG_HOST} port={PG_PORT} user=postgres dbname=test"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A URL to a fresh, empty MariaDB database, dropped afterwards."""
    require_service("MariaDB", MYSQL_HOST, MYSQL_PORT)
    import pymysql

    name = _fresh_name()
    conn = pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user="root", password="",
                           database="test", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        yield f"mysql+pymysql://root@{MYSQL_HOST}:{MYSQL_PORT}/{name}?charset=utf8mb4"
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture
def redis_url() -> str:
    require_service("Redis", REDIS_HOST, REDIS_PORT)
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def sqlite_url(tmp_path: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path}/tokens.db"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright; skipped without it, a failure when services are required."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is not installed (make browser installs Debian's chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Playwright turns the back/forward cache off by default; users' browsers have it on.
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
                                              ignore_default_args=["--disable-back-forward-cache"])
        yield launched
        launched.close()


@pytest.fixture
def github_keys() -> Iterator[Any]:
    """GitHub's key server on 127.0.0.1 publishing one key, ``key-1`` (``_secret_scanning_support``)."""
    from _secret_scanning_support import key_server

    with key_server("key-1") as made:
        yield made
