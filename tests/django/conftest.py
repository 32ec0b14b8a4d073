"""Django, configured in-process for the tests of ``tokenguard_django``.

Three databases: ``default`` (SQLite, a file of this session), ``postgresql`` and
``mariadb`` (fresh databases on the machine's servers, created at first use and
dropped at the end). Each is migrated once per session; ``tokenguard_*`` rows
are removed around every test that asks for a database (the ``database``
fixture, or ``db`` for the default one). A server that is not reachable skips
its tests, or fails them under ``TOKENGUARD_REQUIRE_SERVICES=1``, through the
shared ``require_service`` of ``tests/conftest.py``.
"""

from __future__ import annotations

import importlib.util
import secrets
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _django_settings import TOKENGUARD

if importlib.util.find_spec("django") is None:  # the django extra is not installed
    collect_ignore_glob = ["*"]
else:
    import django
    import pymysql
    from django.conf import settings

    pymysql.install_as_MySQLdb()  # Django's MySQL backend on the pure-Python driver

PG = {"HOST": "127.0.0.1", "PORT": "5432", "USER": "postgres", "ADMIN_DB": "test"}
MARIADB = {"HOST": "127.0.0.1", "PORT": "3306", "USER": "root", "ADMIN_DB": "test"}
#: alias -> (service name, host, port) of the server it needs
SERVERS = {"postgresql": ("PostgreSQL", PG["HOST"], int(PG["PORT"])),
           "mariadb": ("MariaDB", MARIADB["HOST"], int(MARIADB["PORT"]))}
ALIASES = ("default", "postgresql", "mariadb")
_WORKDIR = Path(tempfile.mkdtemp(prefix="tokenguard-django-"))
_NAMES = {alias: "tg_dj_" + secrets.token_hex(5) for alias in SERVERS}

def database_settings() -> dict[str, dict[str, Any]]:
    return {
        # a file, not :memory:, so that threads share it as processes would
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": str(_WORKDIR / "default.sqlite3"),
                    "OPTIONS": {"timeout": 60}},
        "postgresql": {"ENGINE": "django.db.backends.postgresql", "NAME": _NAMES["postgresql"],
                       "HOST": PG["HOST"], "PORT": PG["PORT"], "USER": PG["USER"]},
        "mariadb": {"ENGINE": "django.db.backends.mysql", "NAME": _NAMES["mariadb"],
                    "HOST": MARIADB["HOST"], "PORT": MARIADB["PORT"], "USER": MARIADB["USER"],
                    "PASSWORD": "", "OPTIONS": {"charset": "utf8mb4"}},
    }


def configure() -> None:
    if settings.configured:
        return
    settings.configure(
        DEBUG=False,
        SECRET_KEY="django-test-" + secrets.token_hex(16),
        ALLOWED_HOSTS=["testserver", "localhost", "127.0.0.1"],
        USE_TZ=True,
        TIME_ZONE="Europe/Paris",  # not UTC: what the store reads back must be UTC anyway
        INSTALLED_APPS=[
            "django.contrib.admin",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            "django.contrib.sessions",
            "django.contrib.messages",
            "tokenguard_django",
            *(["rest_framework"] if importlib.util.find_spec("rest_framework") else []),
        ],
        MIDDLEWARE=[
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.contrib.messages.middleware.MessageMiddleware",
            "tokenguard_django.middleware.TokenGuardMiddleware",
        ],
        ROOT_URLCONF="django_test_urls",
        TEMPLATES=[{
            "BACKEND": "django.template.backends.django.DjangoTemplates",
            "APP_DIRS": True,
            "OPTIONS": {"context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]},
        }],
        DATABASES=database_settings(),
        PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],  # fast test users
        TOKENGUARD=TOKENGUARD,
    )
    django.setup()


if importlib.util.find_spec("django") is not None:
    configure()


# -- databases ----------------------------------------------------------------------------------


def _shared_conftest(config: pytest.Config) -> Any:
    """``tests/conftest.py`` as pytest loaded it (its ``require_service``)."""
    path = str(Path(__file__).resolve().parent.parent / "conftest.py")
    for plugin in config.pluginmanager.get_plugins():
        if getattr(plugin, "__file__", None) == path:
            return plugin
    raise RuntimeError("tests/conftest.py is not loaded")


def _create_server_database(alias: str) -> None:
    name = _NAMES[alias]
    if alias == "postgresql":
        import psycopg

        admin = f"host={PG['HOST']} port={PG['PORT']} user={PG['USER']} dbname={PG['ADMIN_DB']}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    else:
        conn = pymysql.connect(host=MARIADB["HOST"], port=int(MARIADB["PORT"]), user=MARIADB["USER"],
                               password="", database=MARIADB["ADMIN_DB"], autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        finally:
            conn.close()


def _drop_server_database(alias: str) -> None:
    name = _NAMES[alias]
    if alias == "postgresql":
        import psycopg

        admin = f"host={PG['HOST']} port={PG['PORT']} user={PG['USER']} dbname={PG['ADMIN_DB']}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        conn = pymysql.connect(host=MARIADB["HOST"], port=int(MARIADB["PORT"]), user=MARIADB["USER"],
                               password="", database=MARIADB["ADMIN_DB"], autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        finally:
            conn.close()


class Databases:
    """Creates and migrates each alias's database once, at its first use in the session."""

    def __init__(self, config: pytest.Config) -> None:
        self._config = config
        self._ready: set[str] = set()
        self._created: list[str] = []

    def ready(self, alias: str) -> str:
        if alias not in self._ready:
            if alias in SERVERS:
                _shared_conftest(self._config).require_service(*SERVERS[alias])
                _create_server_database(alias)
                self._created.append(alias)
            from django.core.management import call_command

            call_command("migrate", database=alias, verbosity=0, interactive=False)
            self._ready.add(alias)
        return alias

    def close(self) -> None:
        from django.db import connections

        connections.close_all()
        for alias in self._created:
            _drop_server_database(alias)
        shutil.rmtree(_WORKDIR, ignore_errors=True)


@pytest.fixture(scope="session")
def databases(pytestconfig: pytest.Config) -> Iterator[Databases]:
    made = Databases(pytestconfig)
    yield made
    made.close()


def clear_tokens(alias: str) -> None:
    from tokenguard_django.models import Owner, Reminder, Token

    Token.objects.using(alias).all().delete()
    Owner.objects.using(alias).all().delete()
    Reminder.objects.using(alias).all().delete()


@pytest.fixture
def use_database(databases: Databases) -> Iterator[Callable[[str], str]]:
    """``use_database(alias)``: that database, migrated, without a token before or after the test."""
    used: list[str] = []

    def use(alias: str) -> str:
        databases.ready(alias)
        clear_tokens(alias)
        used.append(alias)
        return alias

    yield use
    from tokenguard_django import reset_guard

    reset_guard()
    for alias in used:
        clear_tokens(alias)


@pytest.fixture(params=ALIASES)
def database(request: pytest.FixtureRequest, use_database: Callable[[str], str]) -> str:
    """Each of the three databases in turn."""
    return use_database(str(request.param))


@pytest.fixture
def db(use_database: Callable[[str], str]) -> Iterator[str]:
    """The default (SQLite) database, and no user left behind."""
    alias = use_database("default")
    yield alias
    from django.contrib.auth import get_user_model

    get_user_model().objects.all().delete()
