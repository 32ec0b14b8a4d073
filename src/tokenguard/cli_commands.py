"""The ``tokenguard token …`` and ``tokenguard db …`` commands.

Each handler takes the parsed arguments and a :class:`Console` and returns the
exit status; errors are raised and reported as one line by :func:`tokenguard.cli.run`.
"""

from __future__ import annotations

import argparse
import getpass
import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tokenguard import cli_output
from tokenguard.cli_config import CLIError, Console, actor, database_url, open_guard
from tokenguard.errors import AuthenticationError, ValidationError
from tokenguard.guard import _Default
from tokenguard.models import TokenInfo
from tokenguard.reminders import DEFAULT_THRESHOLDS

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_USAGE = 2
MAX_TOKEN_INPUT = 4096
#: files larger than this are scanned in their first this many bytes: a token is 40 characters.
MAX_SCAN_BYTES = 64 * 1024 * 1024
NEVER = "never"
NO_GRACE = ("none", "0")
_DURATION = re.compile(r"([0-9]{1,9})([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``90m``, ``45s``, ``2w`` as a timedelta; ``never`` as ``None``."""
    value = text.strip().lower()
    if value == NEVER:
        return None
    match = _DURATION.fullmatch(value)
    if match is None:
        raise argparse.ArgumentTypeError(
            f"invalid duration {text[:20]!r}: expected a number and a unit (s, m, h, d, w), or 'never'")
    amount, unit = int(match.group(1)), _UNITS[match.group(2)]
    if amount == 0:
        raise argparse.ArgumentTypeError("a duration must be positive")
    try:
        return timedelta(**{unit: amount})
    except OverflowError:
        raise argparse.ArgumentTypeError(f"duration {text[:20]!r} is too long") from None


def parse_grace(text: str) -> timedelta | None:
    """``--grace``: a duration as :func:`parse_duration` reads it; ``none`` or ``0``: no grace."""
    if text.strip().lower() in NO_GRACE:
        return None
    grace = parse_duration(text)
    if grace is None:
        raise argparse.ArgumentTypeError("a grace period ends: give a duration like 24h, or none")
    return grace


def _lifetime(args: argparse.Namespace) -> timedelta | _Default | None:
    """What ``--expires-in`` asked for: a timedelta, ``None`` (never) or ``DEFAULT``."""
    lifetime: timedelta | _Default | None = args.expires_in
    return lifetime


def create(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        issued = guard.create_token(
            args.owner, args.name, scopes=args.scope or None, expires_in=_lifetime(args),
            projects=args.project or None, token_id=args.token_id, admin=args.admin, actor=actor(),
            description=args.description, allowed_networks=args.allow_network or None,
        )
        console.out(issued.token)
        info = issued.info
        expiry = "never expires"
        if info.expires_at is not None:
            expiry = f"expires {info.expires_at:%Y-%m-%d %H:%M} UTC"
        console.note(f"created token {info.id} for {cli_output.safe(info.owner)} "
                     f"({cli_output.scope_label(info)}, {expiry}); the secret above is shown only this once")
    return EXIT_OK


def list_tokens(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        infos = guard.list_tokens(args.owner)
        now = guard.clock()
    if args.json:
        console.out(cli_output.dumps([cli_output.info_json(info, now) for info in infos]))
    elif infos:
        console.out(cli_output.table(infos, now))
    else:
        console.note("no tokens" + (f" for {cli_output.safe(args.owner)}" if args.owner else ""))
    return EXIT_OK


def show(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        info = guard.get_token(args.token_id)
        now = guard.clock()
    _print_info(console, info, now, as_json=args.json)
    return EXIT_OK


def _print_info(console: Console, info: TokenInfo, now: datetime, *, as_json: bool) -> None:
    if as_json:
        console.out(cli_output.dumps(cli_output.info_json(info, now)))
    else:
        console.out(cli_output.card(info, now))


def revoke(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        info = guard.revoke(args.token_id, actor=actor())
    console.out(f"revoked token {info.id} ({cli_output.safe(info.name)})")
    return EXIT_OK


def reapprove(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        try:
            info = guard.reapprove(args.token_id, actor=actor())
        except ValidationError as exc:  # the token's state refuses it: not a usage error
            raise CLIError(str(exc), EXIT_REFUSED) from None
    console.out(f"re-approved token {info.id} ({cli_output.safe(info.name)})")
    return EXIT_OK


def rotate(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        try:
            issued = guard.rotate(args.token_id, expires_in=_lifetime(args), grace=args.grace,
                                  actor=actor())
        except ValidationError as exc:
            if exc.field != "id":
                raise
            raise CLIError(str(exc), EXIT_REFUSED) from None
        console.out(issued.token)
        until = None
        if args.grace is not None:
            until = guard.clock() + args.grace
            if issued.info.expires_at is not None:
                until = min(until, issued.info.expires_at)
    old = ("the old secret no longer works" if until is None
           else f"the old secret keeps working until {until:%Y-%m-%d %H:%M} UTC")
    console.note(f"rotated token {issued.info.id}: {old}; the new one above is shown only this once")
    return EXIT_OK


def delete(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        info = guard.delete(args.token_id, actor=actor())
    console.out(f"deleted token {info.id} ({cli_output.safe(info.name)})")
    return EXIT_OK


def revoke_owner(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        count = guard.revoke_owner(args.owner, actor=actor())
    console.out(str(count))
    console.note(f"revoked {count} token{'s' if count != 1 else ''} of {cli_output.safe(args.owner)}")
    return EXIT_OK


def remind(args: argparse.Namespace, console: Console) -> int:
    """Fire the expiry reminders that are due; each once, however often cron runs this."""
    with open_guard(args, console) as guard:
        sent = guard.remind(args.threshold or DEFAULT_THRESHOLDS)
    console.out(str(sent))
    console.note(f"sent {sent} expiry reminder{'s' if sent != 1 else ''}")
    return EXIT_OK


def scan(args: argparse.Namespace, console: Console) -> int:
    """Find this server's tokens in files: ``file:line:column: hint``, never the token itself.

    The prefix and the checksum decide what a token is, so a lookalike is never reported.
    Exit status 1 when any is found (for CI and pre-commit hooks), 0 when none, 2 when a
    file cannot be read. ``--revoke`` revokes each one this server issued, as leaked.
    """
    from tokenguard.web.secret_scanning import find_tokens

    found = unreadable = revoked = 0
    with open_guard(args, console) as guard:
        for path in args.files:
            try:
                with open(path, "rb") as handle:
                    text = handle.read(MAX_SCAN_BYTES).decode("utf-8", errors="replace")
            except OSError as exc:
                console.error(f"{cli_output.safe(path)}: {exc.strerror or type(exc).__name__}")
                unreadable += 1
                continue
            for match in find_tokens(text, guard.prefix):
                found += 1
                info = guard.introspect(match.token)
                where = f"{cli_output.safe(path)}:{match.line}:{match.column}: {match.hint}"
                if info is None:
                    console.out(f"{where} (not issued by this server)")
                    continue
                state: str = info.status_at(guard.clock())
                if args.revoke and info.revoked_at is None:
                    guard.revoke_leaked(match.token, source="scan", url=path, actor=actor())
                    revoked += 1
                    state = "revoked now"
                console.out(f"{where} token {info.id} of {cli_output.safe(info.owner)} ({state})")
    summary = f"found {found} token{'s' if found != 1 else ''}"
    if args.revoke:
        summary += f", revoked {revoked}"
    console.note(summary)
    if unreadable:
        return EXIT_USAGE
    return EXIT_REFUSED if found else EXIT_OK


def deactivate_owner(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        count = guard.deactivate_owner(args.owner, actor=actor())
    console.out(str(count))
    console.note(f"deactivated {cli_output.safe(args.owner)}: revoked {count} "
                 f"token{'s' if count != 1 else ''}; no new one until reactivated")
    return EXIT_OK


def reactivate_owner(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        lifted = guard.reactivate_owner(args.owner, actor=actor())
    console.note(f"reactivated {cli_output.safe(args.owner)}; no revoked token comes back" if lifted
                 else f"{cli_output.safe(args.owner)} was active already")
    return EXIT_OK


def show_owner(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        state = guard.owner_state(args.owner)
        now = guard.clock()
        live = sum(1 for info in guard.list_tokens(state.owner) if info.status_at(now) == "active")
    if args.json:
        console.out(cli_output.dumps(cli_output.owner_json(state, live)))
    else:
        console.out(cli_output.owner_card(state, live))
    return EXIT_OK


def verify(args: argparse.Namespace, console: Console) -> int:
    """Check a token read from stdin (never argv: it would land in shell history and ``ps``)."""
    token = _read_token(console)
    with open_guard(args, console) as guard:
        try:
            info = guard.authenticate(token)
        except AuthenticationError as exc:
            raise CLIError(str(exc), EXIT_REFUSED) from None
        now = guard.clock()
    _print_info(console, info, now, as_json=args.json)
    return EXIT_OK


def _read_token(console: Console) -> str:
    if console.stdin.isatty():
        token = getpass.getpass("token (not echoed): ", stream=console.stderr)
    else:
        token = console.stdin.read(MAX_TOKEN_INPUT + 1)
    if len(token) > MAX_TOKEN_INPUT:
        raise CLIError("the input is too long to be a token", EXIT_REFUSED)
    token = token.strip()
    if not token:
        raise CLIError("no token on stdin (try: echo \"$TOKEN\" | tokenguard token verify)")
    return token


def db_upgrade(args: argparse.Namespace, console: Console) -> int:
    """Create or upgrade the tables: of the configured URL, or of the app's own SQL store."""
    from sqlalchemy.exc import ArgumentError

    from tokenguard.stores.sql_engine import normalise_url
    from tokenguard.stores.sqlalchemy import SQLAlchemyStore, upgrade

    target: str | Engine
    if console.guard is not None:
        store = console.guard.store
        if not isinstance(store, SQLAlchemyStore):
            raise CLIError(f"db upgrade needs a SQL store; this app's is {type(store).__name__}")
        target = store.engine
        where = store.engine.url.render_as_string(hide_password=True)
    else:
        target = where = database_url(args, console)
        if target.startswith("memory:"):
            raise CLIError("db upgrade needs a SQL database URL, not memory://")
        try:
            normalise_url(target).get_dialect()  # a typo or a missing driver is a usage error
        except (ArgumentError, ValueError) as exc:
            raise CLIError(f"invalid database URL: {exc}") from None
    upgrade(target)  # StoreUnavailable is reported by main() like every other command's
    console.note(f"the tokenguard tables at {console.redact(where)} are up to date")
    return EXIT_OK
