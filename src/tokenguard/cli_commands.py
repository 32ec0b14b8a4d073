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

if TYPE_CHECKING:
    from sqlalchemy import Engine

EXIT_OK = 0
EXIT_REFUSED = 1
MAX_TOKEN_INPUT = 4096
NEVER = "never"
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


def _lifetime(args: argparse.Namespace) -> timedelta | _Default | None:
    """What ``--expires-in`` asked for: a timedelta, ``None`` (never) or ``DEFAULT``."""
    lifetime: timedelta | _Default | None = args.expires_in
    return lifetime


def create(args: argparse.Namespace, console: Console) -> int:
    with open_guard(args, console) as guard:
        issued = guard.create_token(
            args.owner, args.name, scopes=args.scope or None, expires_in=_lifetime(args),
            projects=args.project or None, token_id=args.token_id, admin=args.admin, actor=actor(),
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
            issued = guard.rotate(args.token_id, expires_in=_lifetime(args), actor=actor())
        except ValidationError as exc:
            if exc.field != "id":
                raise
            raise CLIError(str(exc), EXIT_REFUSED) from None
        console.out(issued.token)
    console.note(f"rotated token {issued.info.id}: the old secret no longer works; "
                 "the new one above is shown only this once")
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
