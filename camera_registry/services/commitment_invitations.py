"""Inviting an owner with no commitment in force to sign one, through a link of their own.

Apart from commitments.py because it queues a message: the notifications read commitments' end dates, so
commitments.py itself cannot import them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, CommitmentChannel, OutboxMessage, Owner, SharingCommitment
from ..models.base import utcnow
from .access import Actor
from .audit import record
from .commitments import active_commitment_at, current_commitment, last_day_in_force
from .errors import Conflict, DomainError, ValidationFailed
from .listing import Page, page_of, readable
from .messages import refusal
from .notifications import channel_plan, invite_signature
from .records import unit_on

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
        raise ValidationFailed.unknown("owner", "owner", owner_external_id)
    actor.require_write(owner.commune_id, refusal("commitments of owner %(owner)s", owner=owner_external_id))
    current = current_commitment(session, owner, now)
    if current is not None and current.is_active_at(now):
        until = (
            refusal(" until %(day)s", day=f"{last_day_in_force(current.valid_until):%d/%m/%Y}")
            if current.valid_until
            else ""
        )
        raise Conflict(
            refusal("owner %(owner)s already has a commitment in force", owner=owner_external_id),
            {"owner": [refusal("has a commitment in force%(until)s: invite them to renew it instead", until=until)]},
        )
    expires_at = now + timedelta(days=INVITATION_DAYS)
    messages = invite_signature(session, owner, public_base_url, channel_plan(session), now, expires_at)
    if not messages:
        raise ValidationFailed(
            refusal("owner %(owner)s cannot be reached", owner=owner_external_id),
            {"owner": [refusal("has no phone or e-mail to send the link to")]},
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


@dataclass(frozen=True)
class InvitationResult:
    """What inviting one owner of a batch came to: the invitation queued, or the refusal saying why not."""

    owner_external_id: str
    invitation: Invitation | None = None
    refusal: DomainError | None = None


def invite_many(
    session: Session,
    actor: Actor,
    owner_external_ids: Iterable[str],
    *,
    public_base_url: str,
    now: datetime | None = None,
) -> list[InvitationResult]:
    """Invite each owner in a savepoint of their own, so one refused (no phone or e-mail, a commitment in force)
    leaves nothing behind and the others are invited all the same."""
    results = []
    for external_id in dict.fromkeys(owner_external_ids):
        try:
            with session.begin_nested():
                invitation = invite_to_sign(session, actor, external_id, public_base_url=public_base_url, now=now)
            results.append(InvitationResult(external_id, invitation))
        except DomainError as refusal:
            results.append(InvitationResult(external_id, refusal=refusal))
    return results


def owners_without_commitment(
    session: Session,
    actor: Actor,
    *,
    commune_code: str | None = None,
    page: int = 1,
    page_size: int = 50,
    now: datetime | None = None,
) -> Page[Owner]:
    """The owners in the actor's reach with no commitment in force, whom an invitation to sign is for."""
    in_force = select(SharingCommitment.owner_id).where(active_commitment_at(now or utcnow()))
    statement = (
        select(Owner)
        .where(readable(actor, Owner.commune_id), Owner.id.not_in(in_force))
        .order_by(Owner.commune_id, Owner.name, Owner.id)
    )
    if commune_code is not None:
        commune = unit_on(session, commune_code)
        if commune is None:
            raise ValidationFailed(
                refusal("unknown commune %(code)s", code=commune_code),
                {"commune": [refusal("no unit has code %(code)s", code=commune_code)]},
            )
        statement = statement.where(Owner.commune_id == commune.id)
    return page_of(session, statement, page, page_size)


class LinkState:
    """Where an invitation's link stands: the owner signed through it, it may still be used, or it ran out."""

    SIGNED = "signed"
    OPEN = "open"
    EXPIRED = "expired"


@dataclass(frozen=True)
class SentInvitation:
    owner: Owner
    invited_at: datetime
    invited_by: str
    link_expires_at: datetime
    state: str
    commitment: SharingCommitment | None  # the one signed on the web while the link was live


def sent_invitations(
    session: Session, actor: Actor, *, page: int = 1, page_size: int = 50, now: datetime | None = None
) -> Page[SentInvitation]:
    """The invitations sent to owners in the actor's reach, newest first, each with its link's state; read from
    the audit trail, which keeps every invitation with its link's expiry whether or not its message went out."""
    now = now or utcnow()
    statement = (
        select(AuditEvent)
        .join(Owner, cast(Owner.id, String) == AuditEvent.entity_id)
        .where(
            AuditEvent.action == "commitment.invite",
            AuditEvent.entity_type == "owner",
            readable(actor, Owner.commune_id),
        )
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
    )
    events = page_of(session, statement, page, page_size)
    owners = {owner.id: owner for owner in session.scalars(select(Owner).where(Owner.id.in_(_owner_ids(events))))}
    signed = session.scalars(
        select(SharingCommitment)
        .where(SharingCommitment.owner_id.in_(list(owners)), SharingCommitment.channel == CommitmentChannel.WEB)
        .order_by(SharingCommitment.signed_at)
    ).all()
    lines = []
    for event in events.items:
        owner, expires_at = owners[int(event.entity_id)], datetime.fromisoformat(event.details["link_expires_at"])
        commitment = next(
            (row for row in signed if row.owner_id == owner.id and event.occurred_at <= row.signed_at < expires_at),
            None,
        )
        state = LinkState.SIGNED if commitment else LinkState.EXPIRED if expires_at <= now else LinkState.OPEN
        lines.append(SentInvitation(owner, event.occurred_at, event.actor_label, expires_at, state, commitment))
    return Page(lines, events.total)


def _owner_ids(events: Page[AuditEvent]) -> set[int]:
    return {int(event.entity_id) for event in events.items}
