"""One reading of a guard's configuration, for the CLI and every adapter.

:data:`SETTINGS` is the table: each setting's name, type, default and meaning.
The same table is read from three spellings of its keys:

* lower case, as a mapping or keyword arguments: ``{"database_url": …,
  "max_tokens_per_owner": 5}`` (the ASGI middleware, Django's ``TOKENGUARD``);
* upper case with the ``TOKENGUARD_`` prefix: ``TOKENGUARD_DATABASE_URL``
  (Flask's ``app.config``, the environment);
* command-line options: ``--database-url`` (the ``tokenguard`` command).

A value may be the native one (``5``, ``None``, a list of keys, a dict of
scopes) or its text (``"5"``, ``"none"``, JSON scopes), as the environment
gives it; an absent key or an empty text means the default. Every value is
validated once, here, with a message that names the key as it was spelled
(``TOKENGUARD_MAX_LIFETIME_DAYS must be a positive number of days or none``),
so a bad value reads the same in every adapter and the CLI.

    guard = guard_from_settings(app.config, upper=True)
    guard = guard_from_settings({"database_url": url, "secret_key": key}, upper=False,
                                environ=os.environ)
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from tokenguard.cache import DEFAULT_SIZE, DEFAULT_TTL, REDIS_SCHEMES
from tokenguard.errors import ValidationError
from tokenguard.guard import TokenGuard
from tokenguard.scopes import DEFAULT_SCOPES, ScopeHierarchy
from tokenguard.tokens import MIN_KEY_BYTES, validate_prefix

__all__ = [
    "KEY_HINT",
    "SETTINGS",
    "GuardConfig",
    "Setting",
    "Source",
    "guard_from_settings",
    "read_config",
    "read_setting",
    "reference_table",
    "settings_from_environ",
]

ENV_PREFIX = "TOKENGUARD_"
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
URL_HINT = "e.g. sqlite:///tokens.db or postgresql+psycopg://user:password@host/db"
Style = Literal["lower", "upper", "option"]
Parser = Callable[[object, str], object]

_MISSING: Any = object()
_NUMBER = re.compile(r"[0-9]{1,12}(\.[0-9]{1,9})?")
_MAX_DAYS = 999_999_999  # timedelta's own bound


@dataclass(frozen=True, slots=True)
class Setting:
    """One guard setting: its name (lower case), type and default as people read them."""

    name: str
    type: str
    default: object
    description: str
    parse: Parser = field(repr=False, compare=False)
    #: how the default reads in the documentation ("required", "none", "90"…).
    shown_default: str = ""
    #: ``None`` is a value of its own ("no limit", "never"); otherwise it means "not set".
    nullable: bool = False
    #: the CLI takes it as an option (a secret key never goes on a command line).
    option: bool = True

    @property
    def upper(self) -> str:
        return ENV_PREFIX + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def key(self, style: Style) -> str:
        """The key spelled as ``style`` spells it."""
        return {"lower": self.name, "upper": self.upper, "option": self.flag}[style]


# -- the parsers: (value, key as spelled) -> value, or a ValidationError naming the key ---------


def _invalid(key: str, expected: str, value: object, *, show: bool = True) -> ValidationError:
    got = f" (got {_shown(value)})" if show else ""
    return ValidationError(f"{key} must be {expected}{got}", field=key)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


def _database_url(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise _invalid(key, f"a store URL ({URL_HINT})", value)
    return value.strip()


def _secret_key(value: object, key: str) -> tuple[str | bytes, ...]:
    keys: Sequence[object] = [value] if isinstance(value, str | bytes) else (
        list(value) if isinstance(value, list | tuple) else [])
    if not keys or not all(isinstance(k, str | bytes) for k in keys):
        raise _invalid(key, "a key, or a list of keys with the current one first", value, show=False)
    return _checked_keys(keys, key)  # type: ignore[arg-type]


def _checked_keys(keys: Iterable[str | bytes], key: str) -> tuple[str | bytes, ...]:
    found = tuple(k.strip() if isinstance(k, str) else k for k in keys)
    for one in found:
        raw = one.encode("utf-8") if isinstance(one, str) else one
        if len(raw) < MIN_KEY_BYTES:  # never echoed: the message names the key, not its value
            raise ValidationError(f"{key} is too short: each secret key needs at least {MIN_KEY_BYTES} "
                                  f"bytes ({KEY_HINT})", field=key)
    return found


def _path(value: object, key: str) -> Path:
    if not isinstance(value, str | Path):
        raise _invalid(key, "the path of a file", value)
    return Path(value)


def _prefix(value: object, key: str) -> str:
    text = _text(value)
    try:
        return validate_prefix(text if text is not None else value)  # type: ignore[arg-type]
    except ValidationError:
        raise _invalid(key, "a token prefix matching [a-z][a-z0-9]{0,15}", value) from None


def _words(value: object, words: frozenset[str]) -> bool:
    text = _text(value)
    return value is None or (text is not None and text.lower() in words)


def _positive_count(value: object, key: str) -> int | None:
    if _words(value, frozenset({"none", "unlimited"})):
        return None
    return _count(value, key, minimum=1, expected="a positive whole number or none")


def _size(value: object, key: str) -> int:
    number = _count(value, key, minimum=0, expected="a whole number, 0 or more")
    assert number is not None
    return number


def _count(value: object, key: str, *, minimum: int, expected: str) -> int | None:
    text = _text(value)
    if text is not None and text.isascii() and text.isdigit() and len(text) <= 12:
        value = int(text)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _invalid(key, expected, value)
    return value


def _number(value: object) -> float | None:
    """A finite number, from a number or its decimal text; ``None`` otherwise."""
    text = _text(value)
    if text is not None:
        return float(text) if _NUMBER.fullmatch(text) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _days(value: object, key: str) -> timedelta | None:
    if _words(value, frozenset({"none", "never"})):
        return None
    number = _number(value)
    if number is None or number <= 0 or number > _MAX_DAYS:
        raise _invalid(key, "a positive number of days or none", value)
    return timedelta(days=number)


def _cache_seconds(value: object, key: str) -> float:
    number = _number(value)
    if number is None or number < 0:
        raise _invalid(key, "a number of seconds, 0 or more (0 turns the cache off)", value)
    return number


def _timeout(value: object, key: str) -> float | None:
    if _words(value, frozenset({"none"})):
        return None
    number = _number(value)
    if number is None or number <= 0:
        raise _invalid(key, "a positive number of seconds or none", value)
    return number


def _invalidation(value: object, key: str) -> str | None:
    if _words(value, frozenset({"none"})):
        return None
    text = _text(value)
    if text is None or not text.startswith(REDIS_SCHEMES):
        raise _invalid(key, "a redis://, rediss:// or unix:// URL, or none", value)
    return text


def _scopes(value: object, key: str) -> dict[str, list[str]]:
    example = '{"read": [], "write": ["read"]}'
    text = _text(value)
    if text is not None:
        try:
            value = json.loads(text)
        except ValueError:
            raise ValidationError(f"{key} must be JSON, e.g. {example}", field=key) from None
    if not isinstance(value, Mapping) or not all(
        isinstance(name, str) and isinstance(implied, list | tuple)
        and all(isinstance(i, str) for i in implied) for name, implied in value.items()
    ):
        raise ValidationError(f"{key} must map each scope to the list of scopes it implies, e.g. {example}",
                              field=key)
    scopes = {name: list(implied) for name, implied in value.items()}
    try:
        ScopeHierarchy(scopes)
    except ValidationError as exc:
        raise ValidationError(f"{key}: {exc}", field=key) from None
    return scopes


#: Every setting a guard is built from, in the order the documentation lists them.
SETTINGS: tuple[Setting, ...] = (
    Setting("database_url", "URL", None, "the token store: memory://, sqlite:///…, "
            "postgresql+psycopg://…, mysql+pymysql://… or a plugin's scheme", _database_url,
            shown_default="required"),
    Setting("secret_key", "str, or a list of str", None, "the HMAC key, at least 32 bytes; a list "
            "rotates keys: the first hashes new tokens, every one still verifies", _secret_key,
            shown_default="required (or secret_key_file)", option=False),
    Setting("secret_key_file", "path", None, "a file holding the secret key(s), one per line, the "
            "current first (instead of secret_key)", _path, shown_default="none"),
    Setting("prefix", "str", "tg", "the token prefix, [a-z][a-z0-9]{0,15}", _prefix, shown_default="tg"),
    Setting("max_tokens_per_owner", "int or none", 10, "tokens an owner may hold (not counting expired "
            "ones); none: no limit", _positive_count, shown_default="10", nullable=True),
    Setting("default_lifetime_days", "number or none", 90, "the lifetime of a token created without "
            "one; none: such tokens never expire", _days, shown_default="90", nullable=True),
    Setting("max_lifetime_days", "number or none", None, "a cap on any requested lifetime; none: no cap",
            _days, shown_default="none", nullable=True),
    Setting("expire_unused_after_days", "number or none", None, "tokens unused (or never used) for "
            "this long are refused and shown as expired; none: no such policy", _days,
            shown_default="none", nullable=True),
    Setting("scopes", "JSON object", None, 'the scope hierarchy, each scope with the scopes it implies: '
            '{"read": [], "write": ["read"]}', _scopes,
            shown_default=json.dumps({name: list(implied) for name, implied in DEFAULT_SCOPES.items()})),
    Setting("cache_ttl", "seconds", DEFAULT_TTL, "how long a verified token is answered from memory "
            "(and another process's revoke may go unnoticed without invalidation); 0: no cache",
            _cache_seconds, shown_default=f"{DEFAULT_TTL:g}"),
    Setting("cache_size", "int", DEFAULT_SIZE, "how many verified tokens the cache holds", _size,
            shown_default=str(DEFAULT_SIZE)),
    Setting("invalidation", "redis URL or none", None, "publish every revoke, rotate and delete on Redis "
            "so other processes drop the token from their cache at once (tokenguard[redis])",
            _invalidation, shown_default="none", nullable=True),
    Setting("store_timeout", "seconds or none", None, "a client-side deadline for each call to a SQL "
            "store; past it the call fails as the store being unavailable (503)", _timeout,
            shown_default="none", nullable=True),
)
SETTINGS_BY_NAME: dict[str, Setting] = {setting.name: setting for setting in SETTINGS}
#: the environment variables of the settings: ``TOKENGUARD_DATABASE_URL`` …
ENVIRON_KEYS: frozenset[str] = frozenset(setting.upper for setting in SETTINGS)


# -- sources and their merge -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Settings from one place: a mapping, and how it spells the keys (``style``)."""

    values: Mapping[str, object]
    style: Style

    def get(self, setting: Setting) -> object:
        """The value given for ``setting``, or ``_MISSING`` when it is absent or empty."""
        if self.style == "option" and not setting.option:
            return _MISSING
        value = self.values.get(setting.key(self.style), _MISSING)
        if value is None and not setting.nullable:
            return _MISSING
        if isinstance(value, str | bytes) and not value.strip():
            return _MISSING
        return value


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """Validated settings: what :meth:`guard` hands to :class:`~tokenguard.TokenGuard`."""

    database_url: str
    secret_key: tuple[str | bytes, ...]
    prefix: str
    max_tokens_per_owner: int | None
    default_lifetime: timedelta | None
    max_lifetime: timedelta | None
    scopes: dict[str, list[str]] | None
    cache_ttl: float
    cache_size: int
    invalidation: str | None
    store_timeout: float | None
    expire_unused_after: timedelta | None = None
    #: each setting's key as spelled where it was found (or would be): for messages.
    keys: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    def guard_options(self) -> dict[str, Any]:
        """The keyword arguments of ``TokenGuard``, the store aside."""
        return {
            "secret_key": list(self.secret_key), "prefix": self.prefix,
            "max_tokens_per_owner": self.max_tokens_per_owner, "default_lifetime": self.default_lifetime,
            "max_lifetime": self.max_lifetime, "scopes": self.scopes, "cache_ttl": self.cache_ttl,
            "cache_size": self.cache_size, "invalidation": self.invalidation,
            "expire_unused_after": self.expire_unused_after,
        }

    def guard(self, **options: Any) -> TokenGuard:
        """A new guard; ``options`` (``plugins``, ``clock``…) are passed on, and win."""
        try:
            return TokenGuard(self.store(), **(self.guard_options() | options))
        except ValidationError as exc:
            if exc.field != "store":
                raise
            key = self.keys["database_url"]
            raise ValidationError(f"{key}: {exc}", field=key) from None

    def store(self) -> Any:
        """The store URL, or the SQL store built here when ``store_timeout`` is set."""
        if self.store_timeout is None:
            return self.database_url
        key = self.keys["store_timeout"]
        if self.database_url.startswith("memory:"):
            raise ValidationError(f"{key} applies to a SQL database URL, not memory://", field=key)
        from tokenguard.stores.sqlalchemy import SQLAlchemyStore

        if "timeout" not in inspect.signature(SQLAlchemyStore).parameters:
            # SQLAlchemyStore(..., timeout=) is being added: until then its engine options
            # would take the keyword, so it is refused here, clearly.
            raise ValidationError(f"{key} needs a SQLAlchemyStore with timeout=, which this version "
                                  "of tokenguard lacks", field=key)
        return SQLAlchemyStore(self.database_url, timeout=self.store_timeout)


@dataclass(frozen=True, slots=True)
class _Found:
    value: object
    key: str
    style: Style
    rank: int  # the index of its source: a higher one wins


def read_config(*sources: Source) -> GuardConfig:
    """The settings ``sources`` give, later sources winning, validated once."""
    found, keys = _find(sources)
    values = {setting.name: _value(setting, found, keys) for setting in SETTINGS}
    if values["database_url"] is None:
        raise _not_set("database_url", keys)
    default_lifetime, max_lifetime = values["default_lifetime_days"], values["max_lifetime_days"]
    if default_lifetime and max_lifetime and default_lifetime > max_lifetime:
        raise _lifetimes_refused(default_lifetime, max_lifetime, found, keys)
    return GuardConfig(
        database_url=values["database_url"], secret_key=_secret(found, values, keys),
        prefix=values["prefix"], max_tokens_per_owner=values["max_tokens_per_owner"],
        default_lifetime=default_lifetime, max_lifetime=max_lifetime,
        scopes=values["scopes"], cache_ttl=values["cache_ttl"],
        cache_size=values["cache_size"], invalidation=values["invalidation"],
        store_timeout=values["store_timeout"], expire_unused_after=values["expire_unused_after_days"],
        keys=keys,
    )


def _lifetimes_refused(default: timedelta, cap: timedelta, found: Mapping[str, _Found],
                       keys: Mapping[str, str]) -> ValidationError:
    """The default lifetime exceeds the cap: named as the cap's source spells keys, when unset."""
    cap_key = keys["max_lifetime_days"]
    default_key = keys["default_lifetime_days"] if "default_lifetime_days" in found else \
        SETTINGS_BY_NAME["default_lifetime_days"].key(found["max_lifetime_days"].style)
    default_text, cap_text = (_days_text(value / timedelta(days=1)) for value in (default, cap))
    return ValidationError(f"{default_key} ({default_text}) must not exceed {cap_key} ({cap_text})",
                           field=default_key)


def _days_text(days: float) -> str:
    return f"{days:g} day" + ("" if days == 1 else "s")


def read_setting(name: str, *sources: Source, required: bool = False) -> Any:
    """One setting's validated value (its default when unset), without reading the others."""
    found, keys = _find(sources)
    value = _value(SETTINGS_BY_NAME[name], found, keys)
    if value is None and required:
        raise _not_set(name, keys)
    return value


def _not_set(name: str, keys: Mapping[str, str]) -> ValidationError:
    hint = {"database_url": URL_HINT, "secret_key": KEY_HINT}.get(name, "")
    return ValidationError(f"{keys[name]} is not set" + (f" ({hint})" if hint else ""), field=keys[name])


def _find(sources: Sequence[Source]) -> tuple[dict[str, _Found], dict[str, str]]:
    """Each given setting's raw value from the strongest source, and every setting's key."""
    found: dict[str, _Found] = {}
    for setting in SETTINGS:
        for rank in range(len(sources) - 1, -1, -1):
            value = sources[rank].get(setting)
            if value is not _MISSING:
                style = sources[rank].style
                found[setting.name] = _Found(value, setting.key(style), style, rank)
                break
    # a key and a key file: the stronger source's choice stands (the CLI's option over the environment)
    if {"secret_key", "secret_key_file"} <= found.keys() and \
            found["secret_key"].rank != found["secret_key_file"].rank:
        del found[min(("secret_key", "secret_key_file"), key=lambda name: found[name].rank)]
    keys = {s.name: found[s.name].key if s.name in found else _names(s, sources) for s in SETTINGS}
    return found, keys


def _value(setting: Setting, found: Mapping[str, _Found], keys: Mapping[str, str]) -> Any:
    if setting.name in found:
        return setting.parse(found[setting.name].value, keys[setting.name])
    return None if setting.default is None else setting.parse(setting.default, keys[setting.name])


def _names(setting: Setting, sources: Sequence[Source]) -> str:
    """Every spelling of an unset ``setting`` its sources accept, the strongest first."""
    spelled = [setting.key(s.style) for s in reversed(sources) if s.style != "option" or setting.option]
    return " / ".join(dict.fromkeys(spelled)) or setting.upper


def _secret(found: Mapping[str, _Found], values: Mapping[str, Any],
            keys: Mapping[str, str]) -> tuple[str | bytes, ...]:
    """The keys, current first: ``secret_key``, or the lines of ``secret_key_file``."""
    if "secret_key" in found and "secret_key_file" in found:
        raise ValidationError(f"set {keys['secret_key']} or {keys['secret_key_file']}, not both",
                              field=keys["secret_key"])
    if "secret_key_file" in found:
        return _read_key_file(values["secret_key_file"], keys["secret_key_file"])
    if "secret_key" not in found:
        raise _not_set("secret_key", keys)
    secret_key: tuple[str | bytes, ...] = values["secret_key"]
    return secret_key


def _read_key_file(path: Path, key: str) -> tuple[str | bytes, ...]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{key}: cannot read the secret key file: {exc}", field=key) from None
    keys = [line.strip() for line in text.splitlines() if line.strip()]
    if not keys:
        raise ValidationError(f"{key}: the file {path} holds no key ({KEY_HINT})", field=key)
    return _checked_keys(keys, key)


# -- the entry points ------------------------------------------------------------------------------


def settings_from_environ(environ: Mapping[str, str]) -> dict[str, str]:
    """The ``TOKENGUARD_*`` variables of ``environ`` that name a setting (upper-case keys)."""
    return {name: value for name, value in environ.items() if name in ENVIRON_KEYS}


def guard_from_settings(settings: Mapping[str, object], *, upper: bool,
                        environ: Mapping[str, str] | None = None, **options: Any) -> TokenGuard:
    """A guard from ``settings`` (``TOKENGUARD_*`` keys when ``upper``, else lower-case names).

    With ``environ``, its ``TOKENGUARD_*`` variables supply what ``settings`` leaves out.
    Keys that name no setting (an app's other configuration) are ignored; ``options``
    go to ``TokenGuard`` as they are (``plugins``, ``clock``…).
    """
    sources = [] if environ is None else [Source(settings_from_environ(environ), "upper")]
    sources.append(Source(settings, "upper" if upper else "lower"))
    return read_config(*sources).guard(**options)


def reference_table() -> str:
    """The table as Markdown, for the README's configuration reference."""
    rows = ["| setting | `TOKENGUARD_*` key, CLI option | type | default | what it does |",
            "|---|---|---|---|---|"]
    for s in SETTINGS:
        spelled = f"`{s.upper}`" + (f", `{s.flag}`" if s.option else "")
        rows.append(f"| `{s.name}` | {spelled} | {s.type} | {s.shown_default} | {s.description} |")
    return "\n".join(rows) + "\n"


def defaults() -> dict[str, object]:
    """Each setting's default, by name (``None`` for the required ones)."""
    return {s.name: s.default for s in SETTINGS}
