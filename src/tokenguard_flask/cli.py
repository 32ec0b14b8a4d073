"""``flask tokens …``: the ``tokenguard token`` commands, on the app's own guard and config.

A secret is printed alone on stdout (``export TOKEN=$(flask tokens create …)``);
messages for people go to stderr; a refusal is one line and exit status 1.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

import click
from flask.cli import AppGroup

from tokenguard import cli_output
from tokenguard.cli_commands import parse_duration
from tokenguard.cli_config import actor
from tokenguard.errors import TokenGuardError
from tokenguard.guard import DEFAULT, TokenGuard, _Default
from tokenguard_flask.extension import state

F = TypeVar("F", bound=Callable[..., Any])
tokens_cli = AppGroup("tokens", help="Create, list and manage API tokens of this app.")


Lifetime = timedelta | _Default | None


class Duration(click.ParamType[Lifetime, Any]):
    """``30d``, ``12h``, ``2w``, or ``never``; the guard's default when not given."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Lifetime:
        if isinstance(value, timedelta | _Default) or value is None:
            return value
        try:
            return parse_duration(str(value))
        except argparse.ArgumentTypeError as exc:
            self.fail(str(exc), param, ctx)


def _guard() -> TokenGuard:
    try:
        return state().guard
    except RuntimeError as exc:
        raise click.UsageError(str(exc)) from None


def refusals(command: F) -> F:
    """A ``TokenGuardError`` becomes one line on stderr and exit status 1, never a traceback."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except TokenGuardError as exc:
            click.echo(f"Error: {exc}", err=True)
            raise SystemExit(1) from None

    return cast(F, run)


@tokens_cli.command("create")
@click.argument("name")
@click.option("--owner", required=True, help="The user the token acts for.")
@click.option("--scope", "scopes", multiple=True, help="A scope (repeatable; default: the lowest).")
@click.option("--project", "projects", multiple=True, help="Restrict to a project (repeatable).")
@click.option("--expires-in", type=Duration(), default=DEFAULT, show_default=False,
              help="30d, 12h, 2w or never (default: the guard's default lifetime).")
@click.option("--id", "token_id", default=None, help="Choose the id ([a-z0-9_-]{1,64}).")
@click.option("--admin", is_flag=True, help="An admin token: every scope and project.")
@refusals
def create(name: str, owner: str, scopes: tuple[str, ...], projects: tuple[str, ...],
           expires_in: timedelta | _Default | None, token_id: str | None, admin: bool) -> None:
    """Create a token; print the secret alone on stdout."""
    issued = _guard().create_token(owner, name, scopes=list(scopes) or None, projects=list(projects),
                                   expires_in=expires_in, token_id=token_id, admin=admin, actor=actor())
    click.echo(issued.token)
    click.echo(f"created {issued.info.id} ({issued.info.hint}) for {cli_output.safe(owner)}", err=True)


@tokens_cli.command("list")
@click.option("--owner", default=None, help="Only this owner's tokens.")
@click.option("--json", "as_json", is_flag=True, help="A JSON array instead of a table.")
@refusals
def list_tokens(owner: str | None, as_json: bool) -> None:
    """List tokens, of one owner or all."""
    guard = _guard()
    infos = guard.list_tokens(owner)
    now = guard.clock()
    if as_json:
        click.echo(cli_output.dumps([cli_output.info_json(i, now) for i in infos]))
    else:
        click.echo(cli_output.table(infos, now))


def _simple(name: str, help_text: str, act: Callable[[TokenGuard, str], object], done: str) -> None:
    @tokens_cli.command(name, help=help_text)
    @click.argument("token_id", metavar="ID")
    @refusals
    def command(token_id: str) -> None:
        act(_guard(), token_id)
        click.echo(f"{done} {token_id}", err=True)


_simple("revoke", "Revoke a token (and the tokens it minted).",
        lambda g, i: g.revoke(i, actor=actor()), "revoked")
_simple("reapprove", "Undo a revocation, before expiry.", lambda g, i: g.reapprove(i, actor=actor()),
        "re-approved")
_simple("delete", "Delete a token.", lambda g, i: g.delete(i, actor=actor()), "deleted")


@tokens_cli.command("rotate")
@click.argument("token_id", metavar="ID")
@refusals
def rotate(token_id: str) -> None:
    """Give a token a new secret; print it alone on stdout."""
    issued = _guard().rotate(token_id, actor=actor())
    click.echo(issued.token)
    click.echo(f"rotated {token_id} ({issued.info.hint}); the old secret no longer works", err=True)


@tokens_cli.command("revoke-owner")
@click.argument("owner")
@refusals
def revoke_owner(owner: str) -> None:
    """Revoke every token of an owner; print the count."""
    click.echo(str(_guard().revoke_owner(owner, actor=actor())))
