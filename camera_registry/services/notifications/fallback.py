"""Fallback to the next channel: a message that did not reach its owner, failed and sent again on the next one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ...models import (
    Assignment,
    OutboxMessage,
    Owner,
    SharingCommitment,
    message_transition,
)
from ..access import SYSTEM
from ..audit import record
from ..channels.templates import MessageKind
from .assignments import _assignment_texts
from .commitments import _invitation_texts, _renewal_texts
from .outbox import Texts, _queue, owner_route
from .settings import ChannelPlan

#: The most characters of a provider's word kept on a message.
MAX_DETAIL_LENGTH = 1000
#: The audit action of an owner's Zalo flag cleared after a ZNS refusal.
ZALO_CLEARED = "owner.zalo_cleared"


def move_message(session: Session, message: OutboxMessage, action: str, audited_as: str, note: str, **details) -> None:
    """Change a message's state by its transition table (MessageTransitionRefused otherwise), audited as
    `audited_as` with what identifies the message, and `details`."""
    before = message.status
    message.status = message_transition(before, action)
    record(
        session,
        SYSTEM,
        audited_as,
        "outbox_message",
        message.id,
        from_state=before.value,
        to_state=message.status.value,
        note=note,
        details={
            "kind": message.kind,
            "channel": message.channel.value,
            "idempotency_key": message.idempotency_key,
            "assignment_id": message.assignment_id,
            **details,
        },
    )


def fail_message(
    session: Session,
    message: OutboxMessage,
    action: str,
    detail: str,
    plan: ChannelPlan,
    now: datetime,
    *,
    off_zalo: bool = False,
) -> OutboxMessage | None:
    """`message` did not reach its owner (`action`: refuse, fail or time_out, by the transition table): mark it
    failed, queue the fallback on the next channel and audit both, in the caller's write unit; the fallback.
    `off_zalo`: Zalo said the owner is not on it (zns.not_on_zalo), so their later messages skip ZNS."""
    fallback = queue_fallback(session, message, plan, now, off_zalo=off_zalo)
    message.failed_at, message.receipt_detail = now, detail[:MAX_DETAIL_LENGTH]
    move_message(
        session,
        message,
        action,
        "notification.failed",
        message.receipt_detail,
        fallback={"id": fallback.id, "channel": fallback.channel.value} if fallback else None,
    )
    return fallback


def queue_fallback(
    session: Session, failed: OutboxMessage, plan: ChannelPlan, now: datetime, *, off_zalo: bool = False
) -> OutboxMessage | None:
    """The same message on the owner's next channel after `failed` (refused, or not delivered in time), naming the
    one it replaces; None when no channel is left, or for an escalation (the police's duty phone has one).
    `off_zalo` clears the owner's Zalo flag, once the route past `failed` is known.

    Call it in the write unit that fails `failed`. Its key is the same key on the
    next channel, so a fallback is queued once.
    """
    rendered = _render_again(session, failed)
    if rendered is None:
        return None
    owner, texts, assignment = rendered
    route = owner_route(owner, plan)
    if off_zalo and owner.zalo:
        _clear_zalo(session, owner, failed)
    channels = [channel for channel, _ in route]
    if failed.channel not in channels or channels.index(failed.channel) + 1 == len(route):
        return None
    payload = {name: value for name, value in failed.payload.items() if name != "parameters"}
    queued = _queue(
        session,
        key=failed.idempotency_key.rsplit(":", 1)[0],
        kind=failed.kind,
        recipients=[route[channels.index(failed.channel) + 1]],
        texts=texts,
        payload=payload,
        assignment=assignment,
        now=now,
        # An urgent request's fallback is as urgent: it goes at once at night too.
        deadline=assignment.preservation_deadline if assignment else None,
        falls_back_from=failed,
    )
    return queued[0] if queued else None


def _clear_zalo(session: Session, owner: Owner, refused: OutboxMessage) -> None:
    """Zalo said this phone is not on it or refuses our ZNS: later messages go by SMS first."""
    # Locked and read as stored: the owner may be changing their preferences through their link right now.
    owner = session.get(Owner, owner.id, with_for_update=True, populate_existing=True)
    owner.zalo = False
    record(
        session,
        SYSTEM,
        ZALO_CLEARED,
        "owner",
        owner.id,
        from_state="zalo",
        to_state="not_zalo",
        note=refused.last_error,
        details={"outbox_message_id": refused.id, "idempotency_key": refused.idempotency_key},
    )


def _render_again(session: Session, message: OutboxMessage) -> tuple[Owner, Texts, Assignment | None] | None:
    """An owner message's texts made again from its assignment or commitment, with the link slot it was queued with."""
    link_url = (message.payload or {}).get("link")
    if message.kind == MessageKind.RENEWAL.value:
        commitment = session.get(SharingCommitment, message.payload.get("commitment_id"))
        return None if commitment is None else (commitment.owner, _renewal_texts(commitment, link_url), None)
    if message.kind == MessageKind.INVITATION.value:
        owner = session.get(Owner, message.payload.get("invited_owner_id"))
        return None if owner is None else (owner, _invitation_texts(owner, link_url), None)
    if message.kind not in (MessageKind.REQUEST.value, MessageKind.REMINDER.value) or message.assignment_id is None:
        return None
    assignment = session.get(Assignment, message.assignment_id)
    if assignment is None:
        return None
    return assignment.owner, _assignment_texts(assignment, link_url, message.payload.get("reminder")), assignment
