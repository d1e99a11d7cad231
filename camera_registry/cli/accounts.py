"""`camera-registry users|tokens ...`: staff accounts and their API tokens, created and ended as the system."""

from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..models import Role
from ..services import accounts
from ..services.access import SYSTEM
from .console import committing_session, domain_errors, open_session, table, when


@click.group()
def users() -> None:
    """Staff accounts: admin, province/district staff, commune police. The CLI acts as the system."""


@users.command("create")
@click.option("--username", required=True, help="3-64 characters: a-z, 0-9, '.', '_', '-'.")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option(
    "--unit",
    "unit_code",
    help="Admin unit code, in force today: a commune for commune_police, a province for province_staff; "
    "optional for admin.",
)
@click.option(
    "--group",
    "group_code",
    help="Code of an open supervision group, for district_staff (supervision group staff) instead of --unit.",
)
@click.option("--full-name", default="", help="The person's name, shown in the audit trail.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin (for scripts).")
@with_appcontext
def users_create(
    username: str, role: str, unit_code: str | None, group_code: str | None, full_name: str, password_stdin: bool
) -> None:
    """Create an account. The password is prompted for, never taken as an option (ps and shell history show those)."""
    password = _password("Password", password_stdin)
    with committing_session() as session:
        user = accounts.create_user(session, SYSTEM, username, password, role, unit_code, full_name, group_code)
        binding = _binding(user)
        where = f" for {binding.name} ({binding.code})" if binding else ""
    click.echo(f"created {role} {username}{where}")


@users.command("set-password")
@click.argument("username")
@click.option(
    "--password-stdin", is_flag=True, help="Read the new password from the first line of stdin (for scripts)."
)
@with_appcontext
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set a new password for USERNAME (a reset: the current one is not asked); every login session of the user
    ends. The password is prompted for twice, never taken as an option."""
    password = _password("New password", password_stdin)
    with committing_session() as session:
        accounts.change_password(session, SYSTEM, username, password)
    click.echo(f"password of {username} changed; every session of {username} has ended")


def _binding(user: accounts.User):
    """What the account is bound to: its supervision group, else its unit (None for an unbound admin)."""
    return user.supervision_group or user.admin_unit


def _password(prompt: str, from_stdin: bool) -> str:
    """The first line of stdin (for scripts), or typed twice at a hidden prompt."""
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@users.command("list")
@with_appcontext
def users_list() -> None:
    """Every account, active or not."""
    with open_session() as session, domain_errors():
        rows = [
            (
                user.username,
                user.role.value,
                _binding(user).code if _binding(user) else "",
                "yes" if user.active else "no",
                user.full_name,
                when(user.created_at),
            )
            for user in accounts.list_users(session, SYSTEM)
        ]
    click.echo(table(("username", "role", "unit or group", "active", "full name", "created"), rows))


@users.command("deactivate")
@click.argument("username")
@with_appcontext
def users_deactivate(username: str) -> None:
    """Deactivate USERNAME: logins and tokens stop working; the account stays for the audit trail."""
    with committing_session() as session:
        accounts.deactivate_user(session, SYSTEM, username)
    click.echo(f"deactivated {username}")


@click.group()
def tokens() -> None:
    """API Bearer tokens. Only a hash is stored: a secret is shown once, when created."""


@tokens.command("create")
@click.option("--username", required=True, help="The account the token acts as.")
@click.option("--name", required=True, help="Where the token is used, e.g. 'district dashboard'.")
@click.option("--expires-days", type=int, help="Days until the token expires (default: never).")
@with_appcontext
def tokens_create(username: str, name: str, expires_days: int | None) -> None:
    """Create a token and print its secret on a line of its own."""
    with committing_session() as session:
        user = accounts.get_user(session, username)
        token, secret = accounts.create_token(session, SYSTEM, user, name, expires_days)
    click.echo(f"token {token.id} ({token.name}) for {username}, expires {when(token.expires_at, 'never')}:")
    click.echo(secret)
    click.echo("Copy the secret now: it cannot be shown again (only its hash is stored).", err=True)


@tokens.command("list")
@click.option("--username", required=True)
@with_appcontext
def tokens_list(username: str) -> None:
    """USERNAME's tokens, revoked and expired ones included."""
    with open_session() as session, domain_errors():
        rows = [
            (
                token.id,
                token.name,
                accounts.token_state(token),
                when(token.created_at),
                when(token.expires_at, "never"),
                when(token.last_used_at, "never"),
            )
            for token in accounts.list_tokens(session, accounts.get_user(session, username))
        ]
    click.echo(table(("id", "name", "state", "created", "expires", "last used"), rows))


@tokens.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def tokens_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID at once; it stays listed as revoked."""
    with committing_session() as session:
        accounts.revoke_token(session, SYSTEM, token_id)
    click.echo(f"revoked token {token_id}")
