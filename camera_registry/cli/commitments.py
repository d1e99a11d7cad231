"""`camera-registry commitments ...`: owners' sharing commitments, as the system."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..services.access import SYSTEM
from ..services.commitment_invitations import invite_to_sign
from .console import committing_session, when


@click.group()
def commitments() -> None:
    """Owners' sharing commitments: invitations to sign through a link."""


@commitments.command("invite")
@click.option("--owner", "owner_external_id", required=True, help="The owner's external id in the register.")
@with_appcontext
def commitments_invite(owner_external_id: str) -> None:
    """Invite an owner with no commitment in force to sign one, through a link sent by their channel."""
    with committing_session() as session:
        invitation = invite_to_sign(
            session, SYSTEM, owner_external_id, public_base_url=current_app.config["PUBLIC_BASE_URL"]
        )
        channels = ", ".join(message.channel.value for message in invitation.messages)
        until = when(invitation.link_expires_at)
        click.echo(f"invited owner {owner_external_id} by {channels}; the link may be used until {until}")
