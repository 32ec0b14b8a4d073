"""One table of guard settings, read the same by Flask, ASGI, the CLI and a plain mapping."""

from __future__ import annotations

import argparse
import inspect
import io
import re
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from starlette.applications import Starlette

from tokenguard import MemoryStore, TokenGuard, ValidationError
from tokenguard.cli import build_parser, main
from tokenguard.cli_config import Console, open_guard
from tokenguard.config import (
    KEY_HINT,
    SETTINGS,
    SETTINGS_BY_NAME,
    Source,
    guard_from_settings,
    read_config,
    reference_table,
    settings_from_environ,
)
from tokenguard_asgi import TokenGuardMiddleware
from tokenguard_flask import FlaskTokenGuard

KEY = "config-test-secret-key-0123456789abcdefgh"
OLD_KEY = "config-test-older-key-0123456789abcdefghij"
README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
Build = Callable[[dict[str, str]], TokenGuard]


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No TOKENGUARD_* setting of the shell reaches a test (the ASGI builder reads os.environ)."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.upper, raising=False)


# -- the five ways of building a guard, each from settings by lower-case name ------------------------


def _upper(settings: dict[str, str]) -> dict[str, str]:
    return {SETTINGS_BY_NAME[name].upper: value for name, value in settings.items()}


def by_flask(settings: dict[str, str]) -> TokenGuard:
    app = Flask("config-test")
    app.config.update(_upper(settings))
    FlaskTokenGuard(app)
    guard: TokenGuard = app.extensions["tokenguard"].guard
    return guard


def by_asgi(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> TokenGuard:
    """The URL and the key as arguments, everything else from the environment."""
    rest = {k: v for k, v in settings.items() if k not in ("database_url", "secret_key")}
    for name, value in _upper(rest).items():
        monkeypatch.setenv(name, value)
    return TokenGuardMiddleware(Starlette(), database_url=settings["database_url"],
                                secret_key=settings.get("secret_key")).guard


def by_asgi_environment(settings: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> TokenGuard:
    for name, value in _upper(settings).items():
        monkeypatch.setenv(name, value)
    return TokenGuardMiddleware(Starlette()).guard


def _cli_guard(argv: list[str], env: dict[str, str]) -> TokenGuard:
    """The guard the ``tokenguard`` command builds for ``argv`` (its own parser, its own opener)."""
    args = build_parser().parse_args([*argv, "token", "list"])
    console = Console(io.StringIO(), io.StringIO(), io.StringIO(), env)
    opened = open_guard(args, console)
    guard = opened.__enter__()
    return guard  # closed by the test, as every other way's


def by_cli_environment(settings: dict[str, str]) -> TokenGuard:
    return _cli_guard([], _upper(settings))


def by_cli_options(settings: dict[str, str]) -> TokenGuard:
    """Every setting as an option, but the key itself, which never goes on a command line."""
    options = [part for name, value in settings.items() if name != "secret_key"
               for part in (SETTINGS_BY_NAME[name].flag, value)]
    env = {"TOKENGUARD_SECRET_KEY": settings["secret_key"]} if "secret_key" in settings else {}
    return _cli_guard(options, env)


def by_mapping(settings: dict[str, str]) -> TokenGuard:
    return guard_from_settings(settings, upper=False)


WAYS = ["flask", "asgi", "asgi-environment", "cli-environment", "cli-options", "mapping"]


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, dict[str, str]], TokenGuard]]:
    made: list[TokenGuard] = []

    def build_one(way: str, settings: dict[str, str]) -> TokenGuard:
        builders: dict[str, Build] = {
            "flask": by_flask, "asgi": lambda s: by_asgi(s, monkeypatch),
            "asgi-environment": lambda s: by_asgi_environment(s, monkeypatch),
            "cli-environment": by_cli_environment, "cli-options": by_cli_options, "mapping": by_mapping,
        }
        guard = builders[way](settings)
        made.append(guard)
        return guard

    yield build_one
    for guard in made:
        guard.close()


def described(guard: TokenGuard) -> dict[str, object]:
    """Every attribute a setting decides."""
    store = guard.store
    engine = getattr(store, "engine", None)
    return {
        "prefix": guard.prefix, "max_tokens_per_owner": guard.max_tokens_per_owner,
        "default_lifetime": guard.default_lifetime, "max_lifetime": guard.max_lifetime,
        "scopes": guard.scopes.order, "cache_ttl": guard.cache.ttl, "cache_size": guard.cache.max_size,
        "store": type(store).__name__, "url": None if engine is None else str(engine.url),
        "keys": guard._hasher.key_count, "current_key": guard.derive_key("config-test"),
        "invalidation": type(guard.invalidation).__name__,
    }


def _key_file(tmp_path: Path) -> str:
    path = tmp_path / "keys"
    path.write_text(f"{KEY}\n{OLD_KEY}\n", encoding="utf-8")
    return str(path)


SETTING_SETS: dict[str, Callable[[Path], dict[str, str]]] = {
    "defaults": lambda tmp: {"database_url": "memory://", "secret_key": KEY},
    "everything": lambda tmp: {
        "database_url": f"sqlite:///{tmp / 'tokens.db'}", "secret_key": KEY, "prefix": "acme",
        "max_tokens_per_owner": "3", "default_lifetime_days": "7", "max_lifetime_days": "30.5",
        "scopes": '{"viewer": [], "editor": ["viewer"]}', "cache_ttl": "2.5", "cache_size": "100"},
    "nones": lambda tmp: {
        "database_url": "memory://", "secret_key": KEY, "max_tokens_per_owner": "none",
        "default_lifetime_days": "never", "max_lifetime_days": "none", "cache_ttl": "0"},
    "key file": lambda tmp: {"database_url": "memory://", "secret_key_file": _key_file(tmp)},
}


@pytest.mark.parametrize("settings_set", SETTING_SETS)
def test_every_way_builds_the_same_guard_from_the_same_settings(
    build: Callable[[str, dict[str, str]], TokenGuard], settings_set: str, tmp_path: Path,
) -> None:
    settings = SETTING_SETS[settings_set](tmp_path)
    seen = {way: described(build(way, settings)) for way in WAYS}
    expected = seen["mapping"]
    for way, description in seen.items():
        assert description == expected, way


def test_the_guard_has_what_the_settings_say(build: Callable[[str, dict[str, str]], TokenGuard],
                                             tmp_path: Path) -> None:
    guard = build("mapping", SETTING_SETS["everything"](tmp_path))
    assert described(guard) | {"current_key": None} == {
        "prefix": "acme", "max_tokens_per_owner": 3, "default_lifetime": timedelta(days=7),
        "max_lifetime": timedelta(days=30.5), "scopes": ("viewer", "editor"), "cache_ttl": 2.5,
        "cache_size": 100, "store": "SQLAlchemyStore", "url": f"sqlite:///{tmp_path / 'tokens.db'}",
        "keys": 1, "current_key": None, "invalidation": "NoneType"}
    defaults = build("mapping", SETTING_SETS["defaults"](tmp_path))
    assert (defaults.prefix, defaults.max_tokens_per_owner, defaults.default_lifetime,
            defaults.max_lifetime, defaults.cache.ttl, type(defaults.store)) == (
        "tg", 10, timedelta(days=90), None, 5.0, MemoryStore)
    nones = build("mapping", SETTING_SETS["nones"](tmp_path))
    assert (nones.max_tokens_per_owner, nones.default_lifetime, nones.cache.ttl) == (None, None, 0.0)
    assert build("mapping", SETTING_SETS["key file"](tmp_path))._hasher.key_count == 2


def test_native_values_read_as_their_text(build: Callable[[str, dict[str, str]], TokenGuard]) -> None:
    """Flask's config and the ASGI arguments hold ints, None, lists and dicts; the environment, text."""
    native: dict[str, Any] = {
        "TOKENGUARD_DATABASE_URL": "memory://", "TOKENGUARD_SECRET_KEY": [KEY, OLD_KEY],
        "TOKENGUARD_MAX_TOKENS_PER_OWNER": None, "TOKENGUARD_DEFAULT_LIFETIME_DAYS": 7,
        "TOKENGUARD_MAX_LIFETIME_DAYS": 7.5, "TOKENGUARD_SCOPES": {"viewer": [], "editor": ["viewer"]},
        "TOKENGUARD_CACHE_TTL": 1, "TOKENGUARD_CACHE_SIZE": 50,
    }
    app = Flask("native")
    app.config.update(native)
    FlaskTokenGuard(app)
    from_flask = described(app.extensions["tokenguard"].guard)
    text = {"database_url": "memory://", "secret_key": KEY, "max_tokens_per_owner": "none",
            "default_lifetime_days": "7", "max_lifetime_days": "7.5",
            "scopes": '{"viewer": [], "editor": ["viewer"]}', "cache_ttl": "1", "cache_size": "50"}
    assert from_flask | {"keys": 1} == described(build("cli-environment", text))
    assert from_flask["keys"] == 2


# -- bad values: one message, naming the key as the source spells it ----------------------------------


BAD_VALUES = [
    ("prefix", "Bad!", "must be a token prefix matching"),
    ("max_tokens_per_owner", "-3", "must be a positive whole number or none"),
    ("max_tokens_per_owner", "lots", "must be a positive whole number or none"),
    ("max_tokens_per_owner", "\u00b3", "must be a positive whole number or none"),
    ("default_lifetime_days", "0", "must be a positive number of days or none"),
    ("max_lifetime_days", "-1", "must be a positive number of days or none"),
    ("max_lifetime_days", "inf", "must be a positive number of days or none"),
    ("max_lifetime_days", "10", "DEFAULT_LIFETIME_DAYS (90 days) must not exceed"),
    ("scopes", "not json", 'must be JSON, e.g. {"read": [], "write": ["read"]}'),
    ("scopes", '{"read": "write"}', "must map each scope to the list of scopes it implies"),
    ("scopes", '{"read": ["root"]}', "scope 'read' implies unknown scope 'root'"),
    ("cache_ttl", "-1", "must be a number of seconds, 0 or more"),
    ("cache_size", "many", "must be a whole number, 0 or more"),
    ("invalidation", "http://cache:6379", "must be a redis://, rediss:// or unix:// URL, or none"),
    ("store_timeout", "0", "must be a positive number of seconds or none"),
    ("secret_key_file", "/no/such/file", "cannot read the secret key file"),
    ("database_url", "ftp://example/tokens", "no store handles the URL scheme 'ftp'"),
]
BASE = {"database_url": "memory://", "secret_key": KEY}


def _message(way: str, name: str, value: str, monkeypatch: pytest.MonkeyPatch,
             capsys: pytest.CaptureFixture[str]) -> str:
    """The error for ``name=value`` read ``way``, its key spelled TOKENGUARD_…, for comparison."""
    settings = {**BASE, name: value}
    if name == "secret_key_file":
        del settings["secret_key"]
    setting = SETTINGS_BY_NAME[name]
    if way.startswith("cli"):
        argv = ["token", "list"]
        env = _upper(settings)
        if way == "cli-options" and setting.option:
            del env[setting.upper]
            argv += [setting.flag, value]
        capsys.readouterr()
        monkeypatch.setattr(sys, "stdin", io.StringIO(""))
        assert main(argv, env=env) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("tokenguard: error: "), err
        message = err.removeprefix("tokenguard: error: ").rstrip("\n")
        for one in SETTINGS:
            if one.option:
                message = message.replace(one.flag, one.upper)
        return message
    builders: dict[str, Build] = {"flask": by_flask, "asgi-environment": lambda s: by_asgi_environment(
        s, monkeypatch), "mapping": by_mapping}
    with pytest.raises(ValidationError) as raised:
        builders[way](settings)
    message = str(raised.value)
    if way == "mapping":
        for one in SETTINGS:
            message = re.sub(rf"(^|exceed ){one.name}\b", rf"\g<1>{one.upper}", message)
    return message


@pytest.mark.parametrize(("name", "value", "expected"), BAD_VALUES,
                         ids=[f"{n}={v}" for n, v, _ in BAD_VALUES])
def test_a_bad_value_gives_the_same_message_everywhere(
    name: str, value: str, expected: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    messages = {way: _message(way, name, value, monkeypatch, capsys)
                for way in ("flask", "asgi-environment", "mapping", "cli-environment", "cli-options")}
    assert len(set(messages.values())) == 1, messages
    message = messages["flask"]
    assert expected in message and SETTINGS_BY_NAME[name].upper in message
    assert "\n" not in message


def test_a_default_lifetime_beyond_the_cap() -> None:
    both = {**BASE, "default_lifetime_days": 40, "max_lifetime_days": "30"}
    with pytest.raises(ValidationError, match=r"^default_lifetime_days \(40 days\) must not exceed "
                                              r"max_lifetime_days \(30 days\)$"):
        guard_from_settings(both, upper=False)
    environ = Source({"TOKENGUARD_MAX_LIFETIME_DAYS": "0.5"}, "upper")
    with pytest.raises(ValidationError, match=r"^default_lifetime_days \(40 days\) must not exceed "
                                              r"TOKENGUARD_MAX_LIFETIME_DAYS \(0.5 days\)$"):
        read_config(environ, Source({**BASE, "default_lifetime_days": 40}, "lower"))
    assert read_config(Source({**BASE, "default_lifetime_days": "none", "max_lifetime_days": 1}, "lower")
                       ).max_lifetime == timedelta(days=1)


def test_the_lower_case_spelling_is_named_in_its_own_messages() -> None:
    with pytest.raises(ValidationError, match=r"^max_lifetime_days must be a positive number") as raised:
        guard_from_settings({**BASE, "max_lifetime_days": 0}, upper=False)
    assert raised.value.field == "max_lifetime_days"
    with pytest.raises(ValidationError, match=r"^TOKENGUARD_MAX_LIFETIME_DAYS must be a positive"):
        guard_from_settings({**_upper(BASE), "TOKENGUARD_MAX_LIFETIME_DAYS": False}, upper=True)


@pytest.mark.parametrize("way", ["flask", "asgi-environment", "mapping", "cli-environment"])
def test_a_missing_secret_key_is_one_line_saying_how_to_make_one(
    way: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    if way == "cli-environment":
        assert main(["token", "list"], env={"TOKENGUARD_DATABASE_URL": "memory://"}) == 2
        message = capsys.readouterr().err
        assert message.count("\n") == 1
    else:
        builders: dict[str, Build] = {"flask": by_flask, "mapping": by_mapping,
                                      "asgi-environment": lambda s: by_asgi_environment(s, monkeypatch)}
        with pytest.raises(ValidationError) as raised:
            builders[way]({"database_url": "memory://"})
        message = str(raised.value)
    assert "is not set" in message and KEY_HINT in message
    assert ("secret_key" if way == "mapping" else "TOKENGUARD_SECRET_KEY") in message


def test_a_short_key_is_never_echoed() -> None:
    with pytest.raises(ValidationError, match="is too short: each secret key needs at least 32") as raised:
        guard_from_settings({"database_url": "memory://", "secret_key": ["k" * 40, "Zq9-k3y"]}, upper=False)
    assert "Zq9-k3y" not in str(raised.value)
    with pytest.raises(ValidationError, match="a key, or a list of keys"):
        guard_from_settings({"database_url": "memory://", "secret_key": 12345}, upper=False)


# -- sources: what is unset, what wins ----------------------------------------------------------------


def test_absent_empty_and_none_values() -> None:
    """Absent or empty: the default. None: "none" for settings that have it, else unset."""
    empty = read_config(Source({**BASE, "prefix": "  ", "max_tokens_per_owner": ""}, "lower"))
    assert (empty.prefix, empty.max_tokens_per_owner) == ("tg", 10)
    nones = read_config(Source({**BASE, "prefix": None, "max_tokens_per_owner": None,
                                "default_lifetime_days": None, "cache_ttl": None}, "lower"))
    assert (nones.prefix, nones.max_tokens_per_owner, nones.default_lifetime, nones.cache_ttl) == (
        "tg", None, None, 5.0)
    with pytest.raises(ValidationError, match=r"^database_url is not set \(e\.g\. sqlite:///"):
        read_config(Source({"database_url": None, "secret_key": KEY}, "lower"))


def test_later_sources_win_and_the_missing_names_every_spelling() -> None:
    environ = Source({"TOKENGUARD_PREFIX": "env", "TOKENGUARD_DATABASE_URL": "memory://"}, "upper")
    given = Source({"prefix": "arg", "secret_key": KEY}, "lower")
    found = read_config(environ, given)
    assert (found.prefix, found.database_url, found.keys["prefix"]) == ("arg", "memory://", "prefix")
    with pytest.raises(ValidationError, match=r"^secret_key / TOKENGUARD_SECRET_KEY is not set"):
        read_config(environ, Source({}, "lower"))


def test_a_key_file_or_a_key_not_both(tmp_path: Path) -> None:
    path = _key_file(tmp_path)
    with pytest.raises(ValidationError, match="SECRET_KEY or TOKENGUARD_SECRET_KEY_FILE, not both"):
        read_config(Source({**_upper(BASE), "TOKENGUARD_SECRET_KEY_FILE": path}, "upper"))
    # a stronger source's choice stands: the CLI's --secret-key-file over the environment's key
    chosen = read_config(Source({**_upper(BASE), "TOKENGUARD_SECRET_KEY": "short"}, "upper"),
                         Source({"--secret-key-file": path}, "option"))
    assert chosen.secret_key == (KEY, OLD_KEY)
    empty = tmp_path / "empty"
    empty.write_text("\n \n", encoding="utf-8")
    with pytest.raises(ValidationError, match="holds no key"):
        read_config(Source({"database_url": "memory://", "secret_key_file": str(empty)}, "lower"))


def test_the_secret_key_is_no_option() -> None:
    assert "--secret-key" not in build_parser().format_help().replace("--secret-key-file", "")
    assert not SETTINGS_BY_NAME["secret_key"].option
    assert read_config(Source(_upper(BASE), "upper"), Source({"--secret-key": "x" * 40}, "option")
                       ).secret_key == (KEY,)


def test_settings_from_environ_keeps_the_settings_alone() -> None:
    environ = {"TOKENGUARD_PREFIX": "x", "TOKENGUARD_REALM": "web layer's", "HOME": "/root"}
    assert settings_from_environ(environ) == {"TOKENGUARD_PREFIX": "x"}


def test_invalidation_is_read_as_a_redis_url() -> None:
    found = read_config(Source({**BASE, "invalidation": " redis://cache:6379/0 "}, "lower"))
    assert found.invalidation == "redis://cache:6379/0"
    assert found.guard_options()["invalidation"] == "redis://cache:6379/0"
    assert read_config(Source({**BASE, "invalidation": "none"}, "lower")).invalidation is None


def test_store_timeout_reaches_the_sql_store(tmp_path: Path) -> None:
    from tokenguard.stores.sqlalchemy import SQLAlchemyStore

    url = f"sqlite:///{tmp_path / 'tokens.db'}"
    found = read_config(Source({"database_url": url, "secret_key": KEY, "store_timeout": "2.5"}, "lower"))
    assert found.store_timeout == 2.5
    with pytest.raises(ValidationError, match="store_timeout applies to a SQL database URL, not memory://"):
        read_config(Source({**BASE, "store_timeout": 1}, "lower")).guard()
    if "timeout" in inspect.signature(SQLAlchemyStore).parameters:
        with found.guard() as guard:
            assert isinstance(guard.store, SQLAlchemyStore)
    else:  # the store's timeout= is not in this tree yet: refused clearly, never passed to the engine
        with pytest.raises(ValidationError, match="store_timeout needs a SQLAlchemyStore with timeout="):
            found.guard()
    assert read_config(Source({"database_url": url, "secret_key": KEY}, "lower")).store() == url


# -- the table and the README ---------------------------------------------------------------------------


def test_the_table_covers_every_option_of_the_guard_a_setting_can_give() -> None:
    names = {setting.name for setting in SETTINGS}
    assert len(names) == len(SETTINGS)
    parameters = set(inspect.signature(TokenGuard).parameters)
    code_only = {"store", "clock", "plugins", "load_entry_points", "limiter"}  # objects, not settings
    given = set(read_config(Source(BASE, "lower")).guard_options()) | {"store"}
    assert parameters - code_only <= given
    for setting in SETTINGS:
        assert re.fullmatch(r"[a-z][a-z_]*", setting.name) and setting.description and setting.type


def test_every_setting_is_in_the_readmes_configuration_reference() -> None:
    assert "## Configuration reference\n" in README, "README.md has no Configuration reference section"
    section = README.split("## Configuration reference\n", 1)[1].split("\n## ", 1)[0]
    for setting in SETTINGS:
        assert f"`{setting.name}`" in section and f"`{setting.upper}`" in section, setting.name
    assert reference_table() in section, (
        "the table is out of date: python -c 'from tokenguard.config import reference_table; "
        "print(reference_table())'")


def test_the_cli_options_are_the_table() -> None:
    parser = build_parser()
    flags = {option for action in parser._actions for option in action.option_strings}
    assert {s.flag for s in SETTINGS if s.option} <= flags
    args = parser.parse_args(["--max-lifetime-days", "3", "token", "list", "--cache-ttl", "1"])
    assert isinstance(args, argparse.Namespace)
    assert (args.max_lifetime_days, args.cache_ttl) == ("3", "1")
