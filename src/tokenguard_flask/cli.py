"""``flask tokens …``: the ``tokenguard`` commands, on the app's own guard.

One command set: the arguments go to the ``tokenguard`` command's own parser and
handlers (:func:`tokenguard.cli.run`), with the guard of the app's
``FlaskTokenGuard``. ``flask tokens token create …`` prints what ``tokenguard token
create …`` prints (the secret alone on stdout, messages on stderr, ``--json``), with
the same exit status. Left out: the configuration options (the app's guard is
configured already: an option could not apply) and ``demo``. The ``token`` commands
are also taken without the word ``token``: ``flask tokens create NAME --owner O``.
"""

from __future__ import annotations

import os
import sys

import click
from flask.cli import with_appcontext

from tokenguard.cli import EXIT_USAGE, TOKEN_COMMANDS, run
from tokenguard.cli_config import Console
from tokenguard_flask.extension import state

PROG = "flask tokens"


@click.command("tokens", add_help_option=False,
               context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("argv", nargs=-1, type=click.UNPROCESSED)
@with_appcontext
def tokens_cli(argv: tuple[str, ...]) -> None:
    """Create, list and manage this app's API tokens: the tokenguard commands (--help)."""
    console = Console(stdin=sys.stdin, stdout=sys.stdout, stderr=sys.stderr, env=os.environ)
    try:
        console.guard = state().guard
    except RuntimeError as exc:  # no FlaskTokenGuard on this app: nothing to manage
        console.error(str(exc))
        raise click.exceptions.Exit(EXIT_USAGE) from None
    words = list(argv)
    if words and words[0] in TOKEN_COMMANDS:
        words.insert(0, "token")
    raise click.exceptions.Exit(run(words, console, prog=PROG, app=True))
