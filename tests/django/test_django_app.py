"""The Django app itself: system checks, ``get_guard()``, migrations and the user's life cycle."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any

import pytest
from _django_settings import SECRET, TOKENGUARD
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_out
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connections
from django.test import RequestFactory, override_settings

from tokenguard.errors import RevokedToken
from tokenguard_django import get_guard
from tokenguard_django.config import build_guard
from tokenguard_django.store import DjangoStore


def tokenguard_errors(setting: object) -> list[checks.CheckMessage]:
    with override_settings(TOKENGUARD=setting):
        return [m for m in checks.run_checks(tags=["tokenguard"]) if m.id and m.id.startswith("tokenguard.")]


def ids(setting: object) -> list[str]:
    return [str(m.id) for m in tokenguard_errors(setting)]


# -- system checks --------------------------------------------------------------------------------


def test_a_good_setting_passes_every_check() -> None:
    assert ids(TOKENGUARD) == []
    assert ids({**TOKENGUARD, "database_url": "django://postgresql",
                "scopes": {"read": [], "write": ["read"]}, "max_lifetime_days": 365,
                "default_lifetime_days": 30, "secret_key": [SECRET, SECRET + "old"]}) == []


def test_the_setting_must_be_a_dict() -> None:
    assert ids(["secret_key", SECRET]) == ["tokenguard.E001"]


def test_an_unknown_key_is_named_with_the_closest_known_one() -> None:
    [message] = tokenguard_errors({**TOKENGUARD, "max_token_per_owner": 3})
    assert message.id == "tokenguard.E002"
    assert "'max_token_per_owner'" in message.msg
    assert "'max_tokens_per_owner'" in str(message.hint)
    [upper] = tokenguard_errors({**TOKENGUARD, "TOKENGUARD_PREFIX": "ab"})
    assert "'prefix'" in str(upper.hint)


@pytest.mark.parametrize("value", [None, "", "   ", []])
def test_a_missing_secret_key_is_e003(value: object) -> None:
    setting: dict[str, Any] = {"max_tokens_per_owner": 5}
    if value is not None:
        setting["secret_key"] = value
    assert ids(setting) == ["tokenguard.E003"]


def test_a_short_secret_key_is_e004_and_never_shown() -> None:
    short = "too-short-key-" + "x" * 10
    [message] = tokenguard_errors({"secret_key": short})
    assert message.id == "tokenguard.E004"
    assert "32 bytes" in message.msg
    assert short not in message.msg + str(message.hint)
    [in_list] = tokenguard_errors({"secret_key": [SECRET, short]})
    assert in_list.id == "tokenguard.E004" and "key 1 of the list" in in_list.msg


@pytest.mark.parametrize(("key", "value", "named"), [
    ("prefix", "Bad_Prefix", "prefix"),
    ("max_tokens_per_owner", 0, "max_tokens_per_owner"),
    ("default_lifetime_days", -1, "default_lifetime_days"),
    ("max_lifetime_days", "soon", "max_lifetime_days"),
    ("scopes", {"write": ["nothing"]}, "scopes"),
    ("cache_ttl", -5, "cache_ttl"),
    ("settings_path", "settings/tokens", "settings_path"),
    ("token_headers", ["Api Token"], "token_headers"),
    ("revoke_on_logout", "yes", "revoke_on_logout"),
    ("owner_loader", "no.such.module.loader", "owner_loader"),
])
def test_a_bad_value_is_e005_naming_its_key(key: str, value: object, named: str) -> None:
    [message] = tokenguard_errors({**TOKENGUARD, key: value})
    assert message.id == "tokenguard.E005"
    assert named in message.msg


def test_default_lifetime_beyond_the_maximum_is_refused() -> None:
    [message] = tokenguard_errors({**TOKENGUARD, "default_lifetime_days": 90, "max_lifetime_days": 30})
    assert message.id == "tokenguard.E005" and "default_lifetime_days" in message.msg


def test_a_database_that_is_no_alias_is_e006() -> None:
    [message] = tokenguard_errors({**TOKENGUARD, "database_url": "django://nowhere"})
    assert message.id == "tokenguard.E006"
    assert "django://default" in str(message.hint)


def test_use_tz_off_is_e007() -> None:
    with override_settings(USE_TZ=False):
        assert ids(TOKENGUARD) == ["tokenguard.E007"]


def test_manage_py_check_fails_naming_the_problem() -> None:
    # --database: Django 6 checks the fields against every alias otherwise, and the server
    # aliases' databases are made only when a test first uses them
    with override_settings(TOKENGUARD={"secret_key": "short"}), pytest.raises(SystemCheckError) as caught:
        call_command("check", "--database", "default", stdout=io.StringIO(), stderr=io.StringIO())
    assert "tokenguard.E004" in str(caught.value)
    call_command("check", "--database", "default", stdout=io.StringIO())  # the tests' own setting is fine


def test_checks_open_no_database_connection() -> None:
    for alias in connections:
        connections[alias].close()
    ids({**TOKENGUARD, "database_url": "django://mariadb"})
    assert all(connections[alias].connection is None for alias in connections)


# -- get_guard --------------------------------------------------------------------------------------


def test_get_guard_is_one_guard_on_the_projects_database(db: str) -> None:
    guard = get_guard()
    assert get_guard() is guard
    assert isinstance(guard.store, DjangoStore) and guard.store.using == "default"
    assert guard.max_tokens_per_owner == 5


def test_get_guard_is_rebuilt_when_the_setting_changes(db: str) -> None:
    before = get_guard()
    with override_settings(TOKENGUARD={**TOKENGUARD, "prefix": "acme", "database_url": "django://postgresql"}):
        during = get_guard()
        assert during is not before and during.prefix == "acme"
        assert isinstance(during.store, DjangoStore) and during.store.using == "postgresql"
    after = get_guard()
    assert after.prefix == "tg" and after is not during


def test_get_guard_with_a_bad_setting_raises_improperly_configured() -> None:
    with override_settings(TOKENGUARD={"secret_key": "short"}), pytest.raises(ImproperlyConfigured) as caught:
        get_guard()
    assert "tokenguard.E004" in str(caught.value)


def test_another_store_url_is_used_as_everywhere(db: str) -> None:
    with override_settings(TOKENGUARD={**TOKENGUARD, "database_url": "memory://"}):
        assert type(get_guard().store).__name__ == "MemoryStore"
        assert type(build_guard().store).__name__ == "MemoryStore"


# -- migrations ---------------------------------------------------------------------------------------


def test_models_and_migrations_agree() -> None:
    out = io.StringIO()
    call_command("makemigrations", "tokenguard_django", check=True, dry_run=True, stdout=out)
    assert "No changes detected" in out.getvalue()


def test_migrations_apply_backwards_and_forwards(database: str) -> None:
    call_command("migrate", "tokenguard_django", "zero", database=database, verbosity=0)
    with connections[database].cursor() as cursor:
        tables = connections[database].introspection.table_names(cursor)
    assert not {"tokenguard_token", "tokenguard_owner", "tokenguard_reminder"} & set(tables)
    call_command("migrate", "tokenguard_django", database=database, verbosity=0)
    connection = connections[database]
    with connection.cursor() as cursor:
        tables = set(connection.introspection.table_names(cursor))
        assert {"tokenguard_token", "tokenguard_owner", "tokenguard_reminder"} <= tables
        columns = {c.name for c in connection.introspection.get_table_description(cursor, "tokenguard_token")}
        constraints = connection.introspection.get_constraints(cursor, "tokenguard_token")
    assert columns == {"id", "digest", "owner", "name", "scopes", "projects", "admin", "created_at",
                       "expires_at", "last_used_at", "revoked_at", "hint", "parent_id", "description",
                       "allowed_networks", "last_used_ip", "last_used_agent", "previous_digest",
                       "previous_valid_until"}
    assert any(c["unique"] and c["columns"] == ["digest"] for c in constraints.values())
    assert any(c["index"] and c["columns"] == ["owner"] for c in constraints.values())


def test_mariadb_compares_owners_exactly(use_database: Any) -> None:
    alias = use_database("mariadb")
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT column_name, collation_name FROM information_schema.columns "
                       "WHERE table_schema = DATABASE() AND table_name = 'tokenguard_token' "
                       "AND collation_name IS NOT NULL")
        collations = dict(cursor.fetchall())
    assert set(collations.values()) == {"utf8mb4_bin"}
    assert {"owner", "id", "digest", "name"} <= set(collations)


# -- the user's life cycle ------------------------------------------------------------------------------


def make_user(username: str = "alice") -> Any:
    return get_user_model().objects.create_user(username, password="pw")


def test_logging_out_revokes_the_users_tokens(db: str) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    guard = get_guard()
    issued = guard.create_token(str(alice.pk), "laptop")
    kept = guard.create_token(str(bob.pk), "bob's")

    request = RequestFactory().post("/logout", REMOTE_ADDR="192.0.2.7")
    user_logged_out.send(sender=type(alice), request=request, user=alice)

    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    assert guard.authenticate(kept.token).owner == str(bob.pk)


def test_logging_out_keeps_the_tokens_when_switched_off(db: str) -> None:
    alice = make_user()
    with override_settings(TOKENGUARD={**TOKENGUARD, "revoke_on_logout": False}):
        issued = get_guard().create_token(str(alice.pk), "laptop")
        user_logged_out.send(sender=type(alice), request=None, user=alice)
        assert get_guard().authenticate(issued.token).status == "active"


def test_an_anonymous_logout_revokes_nothing(db: str) -> None:
    user_logged_out.send(sender=None, request=None, user=None)


def test_a_deactivated_user_loses_every_token(db: str) -> None:
    alice = make_user()
    guard = get_guard()
    issued = [guard.create_token(str(alice.pk), f"t{i}", expires_in=timedelta(days=1)) for i in range(3)]

    alice.is_active = False
    alice.save()

    for one in issued:
        with pytest.raises(RevokedToken):
            guard.authenticate(one.token)


def test_a_save_that_does_not_touch_is_active_revokes_nothing(db: str) -> None:
    alice = make_user()
    issued = get_guard().create_token(str(alice.pk), "laptop")
    alice.is_active = False
    alice.save(update_fields=["last_login"])  # is_active not written: the user is still active
    assert get_guard().authenticate(issued.token).status == "active"


def test_an_active_users_save_revokes_nothing(db: str) -> None:
    alice = make_user()
    issued = get_guard().create_token(str(alice.pk), "laptop")
    alice.first_name = "Alice"
    alice.save()
    assert get_guard().authenticate(issued.token).status == "active"


def test_revoke_on_deactivate_can_be_switched_off(db: str) -> None:
    alice = make_user()
    with override_settings(TOKENGUARD={**TOKENGUARD, "revoke_on_deactivate": False}):
        issued = get_guard().create_token(str(alice.pk), "laptop")
        alice.is_active = False
        alice.save()
        assert get_guard().authenticate(issued.token).status == "active"


def test_deactivation_uses_deactivate_owner_when_the_guard_has_it(
    db: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Round 2's guard.deactivate_owner keeps the user inactive; reactivating lifts it."""
    alice = make_user()
    guard = get_guard()
    inactive: set[str] = set()
    calls: list[tuple[str, str, str | None]] = []

    def deactivate_owner(owner: str, *, actor: str | None = None) -> int:
        calls.append(("deactivate", owner, actor))
        inactive.add(owner)
        return guard.revoke_owner(owner)

    def reactivate_owner(owner: str, *, actor: str | None = None) -> None:
        calls.append(("reactivate", owner, actor))
        inactive.discard(owner)

    monkeypatch.setattr(guard, "deactivate_owner", deactivate_owner, raising=False)
    monkeypatch.setattr(guard, "reactivate_owner", reactivate_owner, raising=False)
    monkeypatch.setattr(guard, "is_owner_active", lambda owner: owner not in inactive, raising=False)
    issued = guard.create_token(str(alice.pk), "laptop")

    alice.is_active = False
    alice.save()
    with pytest.raises(RevokedToken):
        guard.authenticate(issued.token)
    alice.is_active = True
    alice.save()
    assert calls == [("deactivate", str(alice.pk), "django:deactivate"),
                     ("reactivate", str(alice.pk), "django:activate")]


def test_the_web_layers_options_are_keys_too() -> None:
    from tokenguard_django.config import WEB_KEYS

    assert {"settings_path", "api_path", "realm", "login_url", "app_name"} <= set(WEB_KEYS)
    assert ids({**TOKENGUARD, "app_name": "Notes", "realm": "notes", "env_var": "NOTES_TOKEN"}) == []


def test_the_page_speaks_djangos_language() -> None:
    from django.utils import translation

    from tokenguard_django.config import WEB_KEYS, django_language, load

    with translation.override("de"):
        assert django_language(None) == "de"
    if "locale_selector" in WEB_KEYS:  # the web layer chooses the page's language
        assert load().web_options().locale_selector is django_language  # type: ignore[attr-defined]
