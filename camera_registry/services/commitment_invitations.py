"""Inviting an owner with no commitment in force to sign one, through a link of their own.

Apart from commitments.py because it queues a message: the notifications read commitments' end dates, so
commitments.py itself cannot import them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import OutboxMessage, Owner
from ..models.base import utcnow
from .access import Actor
from .audit import record
from .commitments import current_commitment, last_day_in_force
from .errors import Conflict, ValidationFailed
from .notifications import channel_plan, invite_signature

#: How long an invitation's link may be used to sign.
INVITATION_DAYS = 30


@dataclass(frozen=True)
class Invitation:
    owner: Owner
    messages: list[OutboxMessage]
    link_expires_at: datetime


def invite_to_sign(
    session: Session, actor: Actor, owner_external_id: str, *, public_base_url: str, now: datetime | None = None
) -> Invitation:
    """Queue an invitation to sign for an owner in the actor's writable reach who has no commitment in force."""
    now = now or utcnow()
    owner = session.scalar(select(Owner).where(Owner.external_id == owner_external_id))
    if owner is None or not actor.can_read(owner.commune_id):
        raise ValidationFailed(
            f"unknown owner {owner_external_id}", {"owner": [f"no owner {owner_external_id} in your reach"]}
        )
    actor.require_write(owner.commune_id, f"commitments of owner {owner_external_id}")
    current = current_commitment(session, owner, now)
    if current is not None and current.is_active_at(now):
        until = f" until {last_day_in_force(current.valid_until):%d/%m/%Y}" if current.valid_until else ""
        raise Conflict(
            f"owner {owner_external_id} already has a commitment in force",
            {"owner": [f"has a commitment in force{until}: invite them to renew it instead"]},
        )
    expires_at = now + timedelta(days=INVITATION_DAYS)
    messages = invite_signature(session, owner, public_base_url, channel_plan(session), now, expires_at)
    if not messages:
        raise ValidationFailed(
            f"owner {owner_external_id} cannot be reached", {"owner": ["has no phone or e-mail to send the link to"]}
        )
    record(
        session,
        actor,
        "commitment.invite",
        "owner",
        owner.id,
        details={"outbox_message_ids": [message.id for message in messages], "link_expires_at": expires_at.isoformat()},
    )
    return Invitation(owner, messages, expires_at)
