"""The ``tokenguard`` command: manage tokens from a shell, upgrade the schema, run the demo.

Configuration comes from options or the environment: every setting of
:data:`tokenguard.config.SETTINGS` (``TOKENGUARD_DATABASE_URL``,
``TOKENGUARD_SECRET_KEY`` or ``TOKENGUARD_SECRET_KEY_FILE``, ``TOKENGUARD_PREFIX``
…), read as the apps read it; an option (``--database-url`` …) wins. A secret is
printed alone on stdout, so ``export TOKEN=$(tokenguard token create …)`` works;
everything meant for people goes to stderr. Every error is one line on stderr and
a non-zero exit status: 2 for usage and configuration, 1 for a refusal (unknown
id, limit, store down).

``flask tokens …`` runs these same commands (:func:`run` with ``app=True``) on the
Flask app's own guard: the same parser without the configuration options and
``demo``, the same handlers, output and exit statuses.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NoReturn

from tokenguard import cli_commands, cli_demo
from tokenguard.cli_config import CLIError, Console, add_options
from tokenguard.errors import TokenGuardError, ValidationError
from tokenguard.guard import DEFAULT

PROG = "tokenguard"
EXIT_REFUSED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
DURATION_HELP = "lifetime: 30d, 12h, 90m, 2w or never (default: 90 days)"

Handler = Callable[[argparse.Namespace, Console], int]
_TOKEN_LIKE = re.compile(r"(secret-token:)?[a-z][a-z0-9]{0,15}_[0-9A-Za-z]{20,}")


#: the ``token`` commands, which ``flask tokens`` also takes without the word ``token``.
TOKEN_COMMANDS = ("create", "list", "show", "revoke", "reapprove", "delete", "rotate", "revoke-owner",
                  "verify", "remind", "scan")


class _Parser(argparse.ArgumentParser):
    """Usage errors become one line (``CLIError``) instead of usage text and ``exit(2)``."""

    #: the program's name, left out of the context an error names ("token create: …").
    root = PROG

    def error(self, message: str) -> NoReturn:
        where = self.prog.removeprefix(self.root).strip()
        context = f"{where}: " if where else ""
        # argparse echoes stray arguments: a token pasted on the command line is not repeated.
        message = _TOKEN_LIKE.sub("[token hidden]", message)
        raise CLIError(f"{context}{message} (see {self.prog} --help)", EXIT_USAGE)


def _parser_class(prog: str) -> type[_Parser]:
    class Parser(_Parser):
        root = prog

    return Parser


def build_parser(prog: str = PROG, *, app: bool = False) -> argparse.ArgumentParser:
    """The command line; ``app``: inside an app (``flask tokens``), whose guard is configured already.

    There the configuration options and ``demo`` are left out: an option that could not
    apply is an error, not silently ignored.
    """
    parser_class = _parser_class(prog)
    parser = parser_class(prog=prog, description="Manage tokenguard API tokens.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    common = _Parser(add_help=False)
    if not app:
        add_options(parser, suppress=False)
        add_options(common, suppress=True)
    groups = parser.add_subparsers(dest="group", metavar="COMMAND", required=True,
                                   parser_class=parser_class)
    _add_token_commands(groups, common, parser_class)
    _add_owner_commands(groups, common, parser_class)
    db = groups.add_parser("db", help="database schema").add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=parser_class)
    upgrade = db.add_parser("upgrade", parents=[common], help="create or upgrade the tokenguard_* tables")
    upgrade.set_defaults(handler=cli_commands.db_upgrade)
    if not app:
        demo = groups.add_parser("demo", parents=[common], help="run the example app or a CLI walk-through")
        demo.add_argument("--app", choices=cli_demo.APPS, default="flask",
                          help="example app to run from ./examples (default flask); walkthrough: CLI steps")
        demo.add_argument("--port", type=_port, default=5000, help="port for the example app (default 5000)")
        demo.set_defaults(handler=cli_demo.demo)
    return parser


def _add_token_commands(groups: argparse._SubParsersAction[_Parser], common: _Parser,
                        parser_class: type[_Parser]) -> None:
    tokens = groups.add_parser("token", help="create, list and manage tokens").add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=parser_class)

    def command(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        sub = tokens.add_parser(name, parents=[common], help=help_text, description=help_text)
        sub.set_defaults(handler=handler)
        return sub

    create = command("create", cli_commands.create, "create a token; prints the secret alone on stdout")
    create.add_argument("name", help="a name people recognise, e.g. 'ci pipeline'")
    create.add_argument("--owner", required=True, help="the user the token acts for")
    create.add_argument("--scope", action="append", default=[],
                        help="a scope (repeatable; default: the lowest configured, read unless "
                             "TOKENGUARD_SCOPES says otherwise)")
    create.add_argument("--project", action="append", default=[],
                        help="restrict to a project (repeatable; default: every project)")
    create.add_argument("--expires-in", type=cli_commands.parse_duration, metavar="DURATION",
                        default=DEFAULT, help=DURATION_HELP)
    create.add_argument("--id", dest="token_id", metavar="ID", help="choose the id ([a-z0-9_-]{1,64})")
    create.add_argument("--admin", action="store_true", help="an admin token: every scope and project")
    create.add_argument("--description", help="what the token is for (up to 500 characters)")
    create.add_argument("--allow-network", action="append", default=[], metavar="CIDR",
                        dest="allow_network",
                        help="only from this network, e.g. 10.0.0.0/8 (repeatable; default: anywhere)")

    listing = command("list", cli_commands.list_tokens, "list tokens, of one owner or all")
    listing.add_argument("--owner", help="only this owner's tokens")
    listing.add_argument("--json", action="store_true", help="a JSON array instead of a table")

    show = command("show", cli_commands.show, "show one token")
    show.add_argument("token_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="a JSON object")

    for name, handler, text in (
        ("revoke", cli_commands.revoke, "revoke a token (and the tokens it minted)"),
        ("reapprove", cli_commands.reapprove, "undo a revocation, before expiry"),
        ("delete", cli_commands.delete, "delete a token"),
    ):
        command(name, handler, text).add_argument("token_id", metavar="ID")

    rotate = command("rotate", cli_commands.rotate, "give a token a new secret; prints it alone on stdout")
    rotate.add_argument("token_id", metavar="ID")
    rotate.add_argument("--expires-in", type=cli_commands.parse_duration, metavar="DURATION",
                        default=DEFAULT, help="new lifetime, or never (default: keep the expiry)")
    rotate.add_argument("--grace", type=cli_commands.parse_grace, metavar="DURATION", default=None,
                        help="keep the old secret working this long (1h, 24h, 7d; never past the "
                             "token's expiry; default: none, it stops at once)")

    owner = command("revoke-owner", cli_commands.revoke_owner,
                    "revoke every token of an owner; prints the count")
    owner.add_argument("owner")

    verify = command("verify", cli_commands.verify,
                     "read a token from stdin (never from the command line) and show whether it is valid")
    verify.add_argument("--json", action="store_true", help="a JSON object")

    remind = command("remind", cli_commands.remind,
                     "send the expiry reminders that are due (each once; safe to run from cron); "
                     "prints how many")
    remind.add_argument("--threshold", action="append", type=_days, default=[], metavar="DAYS",
                        help="remind this many days before expiry (repeatable; default: 30, 7 and 1)")

    scan = command("scan", cli_commands.scan,
                   "find this server's tokens in files (prefix and checksum: no false positives); "
                   "prints file:line and the hint, never the token; exit status 1 when any is found")
    scan.add_argument("files", nargs="+", metavar="FILE")
    scan.add_argument("--revoke", action="store_true",
                      help="revoke every token found that this server issued (tokenguard_token_leaked fires)")


def _add_owner_commands(groups: argparse._SubParsersAction[_Parser], common: _Parser,
                        parser_class: type[_Parser]) -> None:
    owners = groups.add_parser("owner", help="deactivate, reactivate or show an owner").add_subparsers(
        dest="command", metavar="COMMAND", required=True, parser_class=parser_class)
    for name, handler, text in (
        ("deactivate", cli_commands.deactivate_owner,
         "revoke every token of an owner and refuse new ones until reactivated; prints the count"),
        ("reactivate", cli_commands.reactivate_owner, "let an owner hold tokens again (revives none)"),
        ("show", cli_commands.show_owner, "whether an owner is active, and their tokens' count"),
    ):
        sub = owners.add_parser(name, parents=[common], help=text, description=text)
        sub.set_defaults(handler=handler)
        sub.add_argument("owner")
        if name == "show":
            sub.add_argument("--json", action="store_true", help="a JSON object")


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= 36500:
        raise argparse.ArgumentTypeError(f"invalid number of days {text[:20]!r}: expected 0-36500")
    return int(text)


def _port(text: str) -> int:
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}: expected 1-65535")
    return int(text)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokenguard")
    except PackageNotFoundError:  # pragma: no cover - running from an uninstalled tree
        return "unknown"


def run(argv: Sequence[str], console: Console, *, prog: str = PROG, app: bool = False) -> int:
    """Parse ``argv`` and run the command; errors are reported on ``console`` as one line.

    ``app``: the command line of :func:`build_parser` for an app, whose guard is ``console.guard``.
    """
    try:
        args = build_parser(prog, app=app).parse_args(list(argv))
        handler: Handler = args.handler
        return handler(args, console)
    except CLIError as exc:
        return _report(console, str(exc), exc.exit_code)
    except ValidationError as exc:
        return _report(console, str(exc), EXIT_USAGE)
    except TokenGuardError as exc:
        return _report(console, str(exc) or type(exc).__name__, EXIT_REFUSED)
    except KeyboardInterrupt:
        return _report(console, "interrupted", EXIT_INTERRUPTED)
    except Exception as exc:  # never a traceback: one line, with any password masked
        return _report(console, *_describe(exc))


def _describe(exc: Exception) -> tuple[str, int]:
    """A message and status for an error no layer below translated."""
    sql_errors = sys.modules.get("sqlalchemy.exc")
    if sql_errors is not None:
        if isinstance(exc, sql_errors.ArgumentError):  # includes a missing driver
            return f"invalid database URL: {exc}", EXIT_USAGE
        if isinstance(exc, sql_errors.SQLAlchemyError):
            cause = getattr(exc, "orig", None) or exc
            return f"token store unavailable: {type(cause).__name__}: {cause}", EXIT_REFUSED
    return f"unexpected {type(exc).__name__}: {exc}", EXIT_REFUSED


def _report(console: Console, message: str, code: int) -> int:
    console.error(console.redact(message))
    return code


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Entry point of the ``tokenguard`` script and of ``python -m tokenguard``."""
    for stream in (sys.stdout, sys.stderr):  # a name the terminal cannot encode is escaped, not fatal
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(errors="backslashreplace")
    console = Console(stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr,
                      env=os.environ if env is None else env)
    return run(sys.argv[1:] if argv is None else argv, console)
