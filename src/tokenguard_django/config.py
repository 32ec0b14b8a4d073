"""The ``TOKENGUARD = {...}`` setting: its keys, their defaults, and what builds the guard.

The keys are Flask's ``TOKENGUARD_*`` keys in lower case, plus ``database`` (the
alias in ``DATABASES`` the tokens live in) and the Django-only switches below.
Every value is validated by the same code that validates it in the core
(``TokenGuard`` and ``WebOptions`` are built on a throw-away memory store), so
``manage.py check`` and start-up agree on what is wrong, and say which key.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from tokenguard.errors import ValidationError
from tokenguard.guard import TokenGuard
from tokenguard.stores.memory import MemoryStore
from tokenguard.tokens import MIN_KEY_BYTES
from tokenguard.web.options import WebOptions

if TYPE_CHECKING:
    from tokenguard.stores.base import Store

SETTING = "TOKENGUARD"
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"

#: Every key of ``TOKENGUARD`` and its default.
DEFAULTS: dict[str, Any] = {
    # the guard
    "secret_key": None,
    "prefix": "tg",
    "max_tokens_per_owner": 10,
    "default_lifetime_days": 90,
    "max_lifetime_days": None,
    "scopes": None,
    "plugins": (),
    # where the tokens are kept: an alias of DATABASES
    "database": "default",
    # the web layer
    "authorization_header": "Authorization",
    "token_headers": ("Api-Token",),
    "settings_path": "/settings/tokens",
    "api_path": "/api/tokens",
    "realm": "api",
    "env_var": "API_TOKEN",
    "allow_token_minting": False,
    "app_name": "API",
    "login_url": None,
    "max_body_size": 64 * 1024,
    # the host's callbacks (a callable or its dotted path)
    "owner_loader": None,
    "can_manage": None,
    # the user's life cycle (signals)
    "revoke_on_logout": True,
    "revoke_on_deactivate": True,
}
_GUARD_KEYS = ("secret_key", "prefix", "max_tokens_per_owner", "default_lifetime_days",
               "max_lifetime_days", "scopes", "plugins")
_WEB_KEYS = ("authorization_header", "token_headers", "settings_path", "api_path", "realm", "env_var",
             "allow_token_minting", "app_name", "login_url", "max_body_size")
_CALLBACK_KEYS = ("owner_loader", "can_manage")
_SWITCH_KEYS = ("revoke_on_logout", "revoke_on_deactivate")
#: ``TokenGuard``'s argument names where they differ from the keys.
_GUARD_FIELDS = {"default_lifetime": "default_lifetime_days", "max_lifetime": "max_lifetime_days"}
#: Flask keys that have another form here.
_REPLACED = {
    "database_url": "tokens are kept in the project's database: set 'database' to an alias of "
                    "DATABASES (default 'default') instead of 'database_url'",
    "host": "mount the tokenguard URLs under the host you want in your URLconf instead of 'host'",
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with ``TOKENGUARD``; ``id`` is its system check id."""

    id: str
    key: str | None
    message: str
    hint: str | None = None


class Config:
    """``TOKENGUARD`` merged with the defaults; build only from a value without problems."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.values = {**DEFAULTS, **values}

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def guard_options(self) -> dict[str, Any]:
        """The keyword arguments of ``TokenGuard`` other than the store."""
        values = self.values
        return {
            "secret_key": _keys(values["secret_key"]),
            "prefix": values["prefix"],
            "max_tokens_per_owner": values["max_tokens_per_owner"],
            "default_lifetime": _days(values["default_lifetime_days"], "default_lifetime_days"),
            "max_lifetime": _days(values["max_lifetime_days"], "max_lifetime_days"),
            "scopes": values["scopes"],
            "plugins": [_resolve(p, "plugins") for p in values["plugins"]],
        }

    def web_options(self) -> WebOptions:
        values = {key: self.values[key] for key in _WEB_KEYS}
        headers = values["token_headers"]
        values["token_headers"] = (headers,) if isinstance(headers, str) else tuple(headers)
        return WebOptions(**values)

    def callback(self, key: str) -> Callable[..., Any] | None:
        """``owner_loader`` or ``can_manage``: the callable, imported if given as a dotted path."""
        value = self.values[key]
        return None if value is None else _resolve(value, key)


def raw_setting() -> object:
    from django.conf import settings

    return getattr(settings, SETTING, {})


def load() -> Config:
    """The project's configuration; ``ImproperlyConfigured`` names the first problem."""
    raw = raw_setting()
    found = problems(raw)
    if found:
        first = found[0]
        raise ImproperlyConfigured(f"{first.message} [tokenguard_django.{first.id}]")
    assert isinstance(raw, Mapping)
    return Config(raw)


def build_guard(config: Config | None = None, store: Store | None = None) -> TokenGuard:
    """The project's guard: on a ``DjangoStore`` over ``config["database"]`` unless ``store`` is given."""
    config = config or load()
    if store is None:
        from tokenguard_django.store import DjangoStore

        store = DjangoStore(using=config["database"])
    return TokenGuard(store, **config.guard_options())


# -- validation ----------------------------------------------------------------------------


def problems(raw: object) -> list[Problem]:
    """Everything wrong with a ``TOKENGUARD`` value, each with its check id and key."""
    if not isinstance(raw, Mapping):
        return [Problem("E001", None, f"settings.{SETTING} must be a dict, not {type(raw).__name__}")]
    found = [_unknown_key(key) for key in raw if key not in DEFAULTS]
    config = Config(raw)
    found += _secret_key_problems(config["secret_key"])
    if found:
        return found
    found += _database_problems(config["database"])
    found += _value_problems(config)
    return found


def _unknown_key(key: object) -> Problem:
    if isinstance(key, str) and key in _REPLACED:
        return Problem("E002", key, f"{SETTING}[{key!r}] is not used by tokenguard_django",
                       _REPLACED[key])
    if isinstance(key, str) and key.lower() in DEFAULTS:
        return Problem("E002", key, f"unknown key {key!r} in {SETTING}",
                       f"keys are lower case: {key.lower()!r}")
    close = difflib.get_close_matches(str(key), list(DEFAULTS), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(DEFAULTS))}"
    return Problem("E002", str(key), f"unknown key {key!r} in {SETTING}", hint)


def _secret_key_problems(value: object) -> list[Problem]:
    if value is None or value == "" or value == []:
        return [Problem("E003", "secret_key", f"{SETTING}['secret_key'] is not set",
                        f"at least {MIN_KEY_BYTES} bytes, kept out of the database; {KEY_HINT}")]
    keys = [value] if isinstance(value, str | bytes) else value
    if not isinstance(keys, list | tuple) or not all(isinstance(k, str | bytes) for k in keys):
        return [Problem("E005", "secret_key", f"{SETTING}['secret_key'] must be a str, bytes or a "
                        "list of them (the first hashes new tokens, all verify)")]
    short = [i for i, k in enumerate(keys) if len(k.encode() if isinstance(k, str) else k) < MIN_KEY_BYTES]
    if not short:
        return []
    which = "" if isinstance(value, str | bytes) else f" (key {', '.join(str(i) for i in short)} of the list)"
    return [Problem("E004", "secret_key",
                    f"{SETTING}['secret_key'] is too short{which}: it needs at least {MIN_KEY_BYTES} bytes",
                    KEY_HINT)]


def _database_problems(alias: object) -> list[Problem]:
    from django.conf import settings

    if isinstance(alias, str) and alias in settings.DATABASES:
        return []
    return [Problem("E006", "database", f"{SETTING}['database'] = {alias!r} is not an alias of DATABASES",
                    f"one of: {', '.join(settings.DATABASES)}")]


def _value_problems(config: Config) -> list[Problem]:
    """What the core itself refuses, built exactly as start-up builds it (on a memory store)."""
    found: list[Problem] = []
    for key in _SWITCH_KEYS:
        if not isinstance(config[key], bool):
            found.append(Problem("E005", key, f"{SETTING}[{key!r}] must be True or False"))
    for key in _CALLBACK_KEYS:
        try:
            config.callback(key)
        except ValidationError as exc:
            found.append(Problem("E005", key, str(exc)))
    try:
        TokenGuard(MemoryStore(), load_entry_points=False, **config.guard_options()).close()
    except ValidationError as exc:
        found.append(_invalid(exc, _GUARD_FIELDS.get(exc.field or "", exc.field)))
    except (TypeError, AttributeError) as exc:  # a value of a type the core does not take at all
        found.append(Problem("E005", None, f"{SETTING}: {exc}"))
    try:
        config.web_options()
    except ValidationError as exc:
        found.append(_invalid(exc, exc.field))
    except (TypeError, AttributeError) as exc:
        found.append(Problem("E005", None, f"{SETTING}: {exc}"))
    return found


def _invalid(exc: ValidationError, key: str | None) -> Problem:
    where = f"[{key!r}]" if key in DEFAULTS else ""
    return Problem("E005", key, f"{SETTING}{where}: {exc}")


# -- conversions ---------------------------------------------------------------------------


def _keys(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def _days(value: object, key: str) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValidationError(f"{key} must be a positive number of days or None", field=key)
    return timedelta(days=value)


def _resolve(value: object, key: str) -> Any:
    """A dotted path imported, anything else as given; callbacks must be callable."""
    if isinstance(value, str):
        try:
            value = import_string(value)
        except ImportError as exc:
            raise ValidationError(f"{SETTING}[{key!r}]: cannot import {value!r} ({exc})", field=key) from None
    if key in _CALLBACK_KEYS and not callable(value):
        raise ValidationError(f"{SETTING}[{key!r}] must be a callable or its dotted path", field=key)
    return value
