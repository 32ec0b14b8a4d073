"""``manage.py tokenguard …``: the ``tokenguard`` commands, on the project's own guard.

The arguments go to the ``tokenguard`` command's own parser and handlers
(:func:`tokenguard.cli.run`, as ``flask tokens`` does) with ``get_guard()``:
``manage.py tokenguard token create NAME --owner 42`` prints what ``tokenguard
token create`` prints (the secret alone on stdout, messages on stderr, ``--json``),
with the same exit status. The ``token`` commands are also taken without the word
``token`` (``manage.py tokenguard list``). ``db upgrade`` is ``migrate
tokenguard_django`` on the tokens' database.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, TextIO

from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tokenguard.cli import EXIT_USAGE, TOKEN_COMMANDS, run
from tokenguard.cli_config import Console
from tokenguard_django.registry import get_guard

PROG = "manage.py tokenguard"


class _Exit(Exception):
    """The exit status of a command run from the shell, past Django's own error printing."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Command(BaseCommand):
    help = ("Create, list and manage the project's API tokens: the tokenguard commands "
            "(token create|list|show|revoke|reapprove|rotate|delete|revoke-owner|verify, db upgrade; "
            "'manage.py tokenguard token --help' lists them).")
    requires_system_checks: list[str] = []  # a bad TOKENGUARD is reported as one line below
    _from_shell = False
    #: the streams the command prints on: the real ones, or those given to call_command
    _streams: tuple[TextIO, TextIO] = (sys.stdout, sys.stderr)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("argv", nargs=argparse.REMAINDER, help="a tokenguard command and its arguments")

    def run_from_argv(self, argv: list[str]) -> None:
        self._from_shell = True
        try:
            super().run_from_argv(argv)
        except _Exit as exc:
            sys.exit(exc.code)

    def execute(self, *args: Any, **options: Any) -> Any:
        self._streams = (options.get("stdout") or sys.stdout, options.get("stderr") or sys.stderr)
        return super().execute(*args, **options)

    def handle(self, *args: Any, **options: Any) -> None:
        argv = list(options.get("argv") or args)
        if argv and argv[0] in TOKEN_COMMANDS:
            argv = ["token", *argv]
        code = self.dispatch(argv)
        if code:
            if self._from_shell:
                raise _Exit(code)  # the one-line error is printed already
            raise CommandError(f"tokenguard {' '.join(argv[:2])} exited with status {code}", returncode=code)

    def dispatch(self, argv: list[str]) -> int:
        stdout, stderr = self._streams
        console = Console(stdin=sys.stdin, stdout=stdout, stderr=stderr, env=os.environ)
        try:
            console.guard = get_guard()
        except ImproperlyConfigured as exc:
            console.error(str(exc))
            return EXIT_USAGE
        if argv[:2] == ["db", "upgrade"] and not argv[2:]:
            return self.migrate(console)
        return run(argv, console, prog=PROG, app=True)

    def migrate(self, console: Console) -> int:
        """``db upgrade``: Django's migrations of this app, on the database the tokens are in."""
        using = getattr(console.guard.store if console.guard else None, "using", None)
        if using is None:  # another store (database_url): the core upgrades it
            return run(["db", "upgrade"], console, prog=PROG, app=True)
        call_command("migrate", "tokenguard_django", database=using, verbosity=0,
                     stdout=console.stdout, stderr=console.stderr)
        console.note(f"the tokenguard tables of the database {using!r} are up to date")
        return 0
