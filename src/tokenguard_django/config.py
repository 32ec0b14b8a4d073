"""The ``TOKENGUARD = {...}`` setting: its keys, their defaults, and what builds the guard.

The guard's keys are the core's settings table (:data:`tokenguard.config.SETTINGS`,
Flask's ``TOKENGUARD_*`` keys in lower case), read and validated by the core's
own :func:`~tokenguard.config.read_config`. One default differs: ``database_url``
is ``"django://default"``, the project's own database through Django's ORM
(``django://<alias>`` names another alias of ``DATABASES``; any other store URL
works as it does everywhere). The web layer's keys are validated by
``WebOptions``, as in the other adapters; a few keys are Django's own
(callbacks, the user life-cycle switches). ``manage.py check`` and start-up
read the setting through this one module, so they agree on what is wrong.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from tokenguard import config as core
from tokenguard.errors import ValidationError
from tokenguard.guard import TokenGuard
from tokenguard.tokens import MIN_KEY_BYTES
from tokenguard.web.options import WebOptions
from tokenguard.web.policy import check_never_expires
from tokenguard_django.plugin import SCHEME

SETTING = "TOKENGUARD"
DEFAULT_DATABASE_URL = SCHEME + "default"

#: The keys this adapter adds, and their defaults.
DJANGO_DEFAULTS: dict[str, Any] = {
    # plugins of the guard (objects or dotted paths), besides those found by entry point
    "plugins": (),
    # the host's callbacks (a callable or its dotted path)
    "owner_loader": None,
    "can_manage": None,
    # who sees and manages every owner's tokens ({settings_path}/admin); None: active staff users
    # when owners are user pks (no owner_loader), else nobody
    "can_administer": None,
    # the user's life cycle (signals)
    "revoke_on_logout": True,
    "revoke_on_deactivate": True,
}
#: The web layer's options (``settings_path``, ``realm``, ``login_url``…): ``WebOptions``'s own
#: fields, with its defaults, so every adapter takes the same ones.
WEB_KEYS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(WebOptions) if f.init)
#: Web options that are callables (given as such or as a dotted path).
_WEB_CALLABLES = frozenset({"locale_selector", "owner_display", "projects_loader",
                            "template_context", "permission_levels"}) & set(WEB_KEYS)
#: Every key of ``TOKENGUARD``: the core's settings, the web layer's options, this adapter's.
KEYS: tuple[str, ...] = (*(s.name for s in core.SETTINGS), *WEB_KEYS, *DJANGO_DEFAULTS)
_CALLBACK_KEYS = ("owner_loader", "can_manage", "can_administer", *sorted(_WEB_CALLABLES))
_SWITCH_KEYS = ("revoke_on_logout", "revoke_on_deactivate")
#: Flask keys that have no meaning here.
_REPLACED = {"host": "mount the tokenguard URLs under the host you want in your URLconf instead"}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with ``TOKENGUARD``; ``id`` is its system check id."""

    id: str
    key: str | None
    message: str
    hint: str | None = None


class Config:
    """``TOKENGUARD`` with the defaults; build only from a value without problems."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self.given = dict(values)
        self.values = {**DJANGO_DEFAULTS, **values}

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    @property
    def database_url(self) -> str:
        url = self.given.get("database_url")
        return url.strip() if isinstance(url, str) and url.strip() else DEFAULT_DATABASE_URL

    def guard_config(self) -> core.GuardConfig:
        """The guard's settings, read and validated by the core."""
        guard_keys = {s.name for s in core.SETTINGS}
        values = {k: v for k, v in self.given.items() if k in guard_keys}
        values["database_url"] = self.database_url
        return core.read_config(core.Source(values, "lower"))

    def plugins(self) -> list[object]:
        from tokenguard_django import plugin

        return [plugin, *(_resolve(p, "plugins") for p in self.values["plugins"])]

    def build_guard(self, **options: Any) -> TokenGuard:
        """The project's guard (``options`` go to ``TokenGuard``, as ``clock`` in tests)."""
        return self.guard_config().guard(plugins=self.plugins(), **options)

    def web_options(self) -> WebOptions:
        """The web layer's options: those given, the page's language from Django's i18n."""
        values = {key: self.given[key] for key in WEB_KEYS if key in self.given}
        headers = values.get("token_headers")
        if headers is not None:
            values["token_headers"] = (headers,) if isinstance(headers, str) else tuple(headers)
        for key in _WEB_CALLABLES & values.keys():
            values[key] = self.callback(key)
        if "locale_selector" in WEB_KEYS and values.get("locale_selector") is None:
            values["locale_selector"] = django_language
        return WebOptions(**values)

    def callback(self, key: str) -> Callable[..., Any] | None:
        """A callback (``owner_loader``, ``can_manage``, ``locale_selector``…), imported if given
        as a dotted path."""
        value = self.values.get(key)
        return None if value is None else _resolve(value, key)


def django_language(request: object) -> str | None:
    """The language Django activated for the request (``LocaleMiddleware``, ``LANGUAGE_CODE``)."""
    from django.utils import translation

    return translation.get_language()


def raw_setting() -> object:
    from django.conf import settings

    return getattr(settings, SETTING, {})


def load() -> Config:
    """The project's configuration; ``ImproperlyConfigured`` names the first problem."""
    raw = raw_setting()
    found = problems(raw)
    if found:
        first = found[0]
        raise ImproperlyConfigured(f"{first.message} [tokenguard.{first.id}]")
    assert isinstance(raw, Mapping)
    return Config(raw)


def build_guard(config: Config | None = None, **options: Any) -> TokenGuard:
    """The project's guard from ``TOKENGUARD`` (by default a ``DjangoStore`` on ``default``)."""
    return (config or load()).build_guard(**options)


# -- validation ----------------------------------------------------------------------------


def problems(raw: object) -> list[Problem]:
    """Everything wrong with a ``TOKENGUARD`` value, each with its check id and key.

    Never opens a database connection and never builds a store.
    """
    if not isinstance(raw, Mapping):
        return [Problem("E001", None, f"settings.{SETTING} must be a dict, not {type(raw).__name__}")]
    found = [_unknown_key(key) for key in raw if key not in KEYS]
    config = Config(raw)
    if "secret_key_file" not in raw:
        found += _secret_key_problems(raw.get("secret_key"))
    if found:
        return found
    found += _database_problems(config)
    try:
        lifetimes = config.guard_config()
        check_never_expires(config.values.get("allow_never_expires"), lifetimes.default_lifetime,
                            lifetimes.max_lifetime)
    except ValidationError as exc:
        found.append(Problem("E005", exc.field, f"{SETTING}: {exc}"))
    found += _adapter_problems(config)
    return found


def _unknown_key(key: object) -> Problem:
    if isinstance(key, str) and key in _REPLACED:
        return Problem("E002", key, f"{SETTING}[{key!r}] is not used by tokenguard_django",
                       _REPLACED[key])
    if isinstance(key, str) and key.lower().removeprefix("tokenguard_") in KEYS:
        return Problem("E002", key, f"unknown key {key!r} in {SETTING}",
                       f"keys are lower case, without a prefix: {key.lower().removeprefix('tokenguard_')!r}")
    close = difflib.get_close_matches(str(key), KEYS, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(sorted(KEYS))}"
    return Problem("E002", str(key), f"unknown key {key!r} in {SETTING}", hint)


def _secret_key_problems(value: object) -> list[Problem]:
    if value is None or (isinstance(value, str | bytes) and not value.strip()) or value in ([], ()):
        return [Problem("E003", "secret_key", f"{SETTING}['secret_key'] is not set",
                        f"at least {MIN_KEY_BYTES} bytes, kept out of the database; {core.KEY_HINT}")]
    keys = [value] if isinstance(value, str | bytes) else value
    if not isinstance(keys, list | tuple) or not all(isinstance(k, str | bytes) for k in keys):
        return [Problem("E005", "secret_key", f"{SETTING}['secret_key'] must be a str, bytes or a "
                        "list of them (the first hashes new tokens, all verify)")]
    short = [i for i, k in enumerate(keys)
             if len(k.strip().encode() if isinstance(k, str) else k) < MIN_KEY_BYTES]
    if not short:
        return []
    which = "" if isinstance(value, str | bytes) else f" (key {', '.join(map(str, short))} of the list)"
    return [Problem("E004", "secret_key",
                    f"{SETTING}['secret_key'] is too short{which}: it needs at least {MIN_KEY_BYTES} bytes",
                    core.KEY_HINT)]


def _database_problems(config: Config) -> list[Problem]:
    from django.conf import settings

    url = config.database_url
    if not url.startswith(SCHEME):
        return []
    alias = url.removeprefix(SCHEME)
    if alias not in settings.DATABASES:
        return [Problem("E006", "database_url", f"{SETTING}['database_url'] = {url!r} names no alias "
                        "of DATABASES", f"one of: {', '.join(SCHEME + a for a in settings.DATABASES)}")]
    if config.given.get("store_timeout") is not None:
        return [Problem("E005", "store_timeout", f"{SETTING}['store_timeout'] applies to a SQL store URL, "
                        "not to the project's database", "set the database's own timeouts in DATABASES "
                        "OPTIONS (connect_timeout, statement_timeout…)")]
    return []


def _adapter_problems(config: Config) -> list[Problem]:
    found: list[Problem] = []
    for key in _SWITCH_KEYS:
        if not isinstance(config[key], bool):
            found.append(Problem("E005", key, f"{SETTING}[{key!r}] must be True or False"))
    for key in (*_CALLBACK_KEYS, "plugins"):
        try:
            config.plugins() if key == "plugins" else config.callback(key)
        except (ValidationError, TypeError) as exc:
            found.append(Problem("E005", key, str(exc)))
    try:
        config.web_options()
    except ValidationError as exc:
        found.append(Problem("E005", exc.field, f"{SETTING}[{exc.field!r}]: {exc}"))
    except TypeError as exc:  # a value of a type the web layer does not take at all
        found.append(Problem("E005", None, f"{SETTING}: {exc}"))
    return found


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
