"""Where the CLI's configuration comes from: options first, then the environment."""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

from tokenguard.errors import ValidationError
from tokenguard.guard import TokenGuard
from tokenguard.tokens import MIN_KEY_BYTES

ENV_DATABASE_URL = "TOKENGUARD_DATABASE_URL"
ENV_SECRET_KEY = "TOKENGUARD_SECRET_KEY"
ENV_PREFIX = "TOKENGUARD_PREFIX"
ENV_MAX_TOKENS = "TOKENGUARD_MAX_TOKENS_PER_OWNER"
ENV_SCOPES = "TOKENGUARD_SCOPES"
DEFAULT_DATABASE_URL = "sqlite:///tokenguard.db"
DEFAULT_MAX_TOKENS = 10
KEY_HINT = "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
_UNLIMITED = frozenset({"none", "unlimited"})


class CLIError(Exception):
    """An error the CLI reports as one line, with its exit status."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(slots=True)
class Console:
    """The streams and environment a command runs with (the real ones, or test doubles)."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    env: Mapping[str, str]
    #: configuration values that must never appear in an error message (passwords, keys).
    secrets: list[str] = field(default_factory=list)

    def hide(self, value: str | None) -> None:
        if value:
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


def _password(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def database_url(args: argparse.Namespace, console: Console) -> str:
    url: str = args.database_url or console.env.get(ENV_DATABASE_URL) or DEFAULT_DATABASE_URL
    console.hide(_password(url))
    return url


def secret_keys(args: argparse.Namespace, console: Console) -> list[str]:
    """The secret keys, current first, from ``--secret-key-file`` or ``TOKENGUARD_SECRET_KEY``."""
    if args.secret_key_file:
        source = f"--secret-key-file {args.secret_key_file}"
        try:
            text = Path(args.secret_key_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CLIError(f"cannot read the secret key file: {exc}") from None
        keys = [line.strip() for line in text.splitlines() if line.strip()]
        if not keys:
            raise CLIError(f"{source} holds no key ({KEY_HINT})")
    else:
        source = ENV_SECRET_KEY
        key = console.env.get(ENV_SECRET_KEY, "").strip()
        if not key:
            raise CLIError(f"{ENV_SECRET_KEY} is not set ({KEY_HINT})")
        keys = [key]
    for key in keys:
        if len(key.encode("utf-8")) < MIN_KEY_BYTES:
            raise CLIError(f"the secret key from {source} is too short: it needs at least "
                           f"{MIN_KEY_BYTES} bytes ({KEY_HINT})")
        console.hide(key)
    return keys


def prefix(args: argparse.Namespace, console: Console) -> str:
    value: str = args.prefix or console.env.get(ENV_PREFIX) or "tg"
    return value


def max_tokens(args: argparse.Namespace, console: Console) -> int | None:
    raw = args.max_tokens_per_owner or console.env.get(ENV_MAX_TOKENS)
    if raw is None or not raw.strip():
        return DEFAULT_MAX_TOKENS
    text = raw.strip().lower()
    if text in _UNLIMITED:
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise CLIError(f"invalid per-owner limit {raw[:20]!r}: expected a positive number or 'none'")
    return int(text)


def scopes(console: Console) -> dict[str, list[str]] | None:
    """An app's own scope hierarchy from ``TOKENGUARD_SCOPES``, as JSON: ``{"read": [], …}``."""
    raw = console.env.get(ENV_SCOPES)
    if raw is None or not raw.strip():
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        raise CLIError(f"{ENV_SCOPES} is not JSON; expected e.g. "
                       '{"read": [], "write": ["read"]}') from None
    if not isinstance(value, dict) or not all(
        isinstance(implied, list) and all(isinstance(i, str) for i in implied)
        for implied in value.values()
    ):
        raise CLIError(f"{ENV_SCOPES} must map each scope to the list of scopes it implies")
    return value


def environment_options(env: Mapping[str, str]) -> dict[str, Any]:
    """``TOKENGUARD_PREFIX``, ``_MAX_TOKENS_PER_OWNER`` and ``_SCOPES`` as ``TokenGuard`` options.

    What the CLI reads, for an app that builds its guard from the environment too
    (``TokenGuardMiddleware()`` without a guard): a token the CLI makes is then the app's.
    """
    console = Console(sys.stdin, sys.stdout, sys.stderr, env)
    args = argparse.Namespace(prefix=None, max_tokens_per_owner=None)
    try:
        return {"prefix": prefix(args, console), "max_tokens_per_owner": max_tokens(args, console),
                "scopes": scopes(console)}
    except CLIError as exc:
        raise ValidationError(str(exc), field="environment") from None


def build_guard(args: argparse.Namespace, console: Console) -> TokenGuard:
    """A guard on the configured store; the caller closes it."""
    return TokenGuard(
        database_url(args, console),
        secret_key=secret_keys(args, console),
        prefix=prefix(args, console),
        max_tokens_per_owner=max_tokens(args, console),
        scopes=scopes(console),
    )


def actor() -> str:
    """Who acts, for the audit log: ``cli:<login>`` when the login is known."""
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli"
