"""The CLI's side of configuration: options from :data:`tokenguard.config.SETTINGS`, the console.

Every setting of the table but the secret key itself (never on a command line) is
also an option (``--database-url``, ``--max-lifetime-days`` …), before or after the
command name; an option wins over its ``TOKENGUARD_*`` variable. The reading and
the validation are :mod:`tokenguard.config`'s, the same as the apps'.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO
from urllib.parse import urlsplit

from tokenguard import config
from tokenguard.config import SETTINGS, Source
from tokenguard.errors import ValidationError
from tokenguard.guard import TokenGuard

EXIT_USAGE = 2
#: the settings the CLI takes as options.
OPTIONS = tuple(setting for setting in SETTINGS if setting.option)
#: what an option's value is called in ``--help`` (else the first word of its type).
_METAVARS = {"invalidation": "URL", "max_tokens_per_owner": "N", "cache_size": "N",
             "default_lifetime_days": "DAYS", "max_lifetime_days": "DAYS"}


class CLIError(Exception):
    """An error the CLI reports as one line, with its exit status."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(slots=True)
class Console:
    """What a command runs with: streams, environment and, inside an app, the app's guard."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    env: Mapping[str, str]
    #: configuration values that must never appear in an error message (passwords, keys).
    secrets: list[str] = field(default_factory=list)
    #: the app's own guard (``flask tokens``): used, and left open, instead of one built from
    #: the environment and the options.
    guard: TokenGuard | None = None

    def hide(self, value: str | bytes | None) -> None:
        if isinstance(value, str) and value:
            self.secrets.append(value)

    def out(self, text: str) -> None:
        """Output for programs: stdout."""
        print(text, file=self.stdout, flush=True)

    def note(self, text: str) -> None:
        """Output for people: stderr."""
        print(text, file=self.stderr, flush=True)

    def error(self, message: str) -> None:
        first_line = " ".join(message.split())
        print(f"tokenguard: error: {first_line}", file=self.stderr, flush=True)

    def redact(self, text: str) -> str:
        """``text`` with every configured password and key masked."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text


def add_options(parser: argparse.ArgumentParser, *, suppress: bool) -> None:
    """One option per setting of the table, under "configuration"."""
    group = parser.add_argument_group("configuration")
    for setting in OPTIONS:
        default = setting.shown_default
        default = f"; {default}" if default.startswith("required") else f"; default {default}"
        group.add_argument(setting.flag, dest=setting.name,
                           metavar=_METAVARS.get(setting.name, setting.type.split()[0].upper()),
                           default=argparse.SUPPRESS if suppress else None,
                           help=f"{setting.description} (env {setting.upper}{default})")


def given_options(args: argparse.Namespace) -> dict[str, str]:
    """The options given on the command line, by flag (``--prefix``: ``"acme"``)."""
    return {s.flag: value for s in OPTIONS if (value := getattr(args, s.name, None)) is not None}


def sources(args: argparse.Namespace, console: Console) -> tuple[Source, Source]:
    """The environment, then the options, which win."""
    return Source(console.env, "upper"), Source(given_options(args), "option")


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def database_url(args: argparse.Namespace, console: Console, default: str | None = None) -> str:
    """The configured store URL (its password hidden from messages); an error when unset."""
    found: str | None = config.read_setting("database_url", *sources(args, console),
                                            required=default is None)
    url = found or default or ""
    console.hide(_password(url))
    return url


def read_config(args: argparse.Namespace, console: Console) -> config.GuardConfig:
    """The whole configuration, its passwords and keys hidden from messages."""
    database_url(args, console)
    found = config.read_config(*sources(args, console))
    for key in found.secret_key:
        console.hide(key)
    return found


@contextmanager
def open_guard(args: argparse.Namespace, console: Console) -> Iterator[TokenGuard]:
    """The app's guard, or one on the configured store that is closed afterwards."""
    if console.guard is not None:
        yield console.guard
        return
    with read_config(args, console).guard() as guard:
        yield guard


def environment_options(env: Mapping[str, str]) -> dict[str, Any]:
    """``TOKENGUARD_PREFIX``, ``_MAX_TOKENS_PER_OWNER`` and ``_SCOPES`` as ``TokenGuard`` options.

    For an app that reads its own environment as the CLI does (examples/flask_app.py);
    :func:`tokenguard.config.guard_from_settings` reads every setting at once.
    """
    source = Source(env, "upper")
    try:
        return {name: config.read_setting(name, source)
                for name in ("prefix", "max_tokens_per_owner", "scopes")}
    except ValidationError as exc:
        raise ValidationError(str(exc), field="environment") from None


def actor() -> str:
    """Who acts, for the audit log: ``cli:<login>`` when the login is known."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"
