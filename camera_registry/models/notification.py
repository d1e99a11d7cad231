"""The notification outbox and the scheduler's single-runner lease.

A message is written in the same transaction as the state change it tells
about, so nothing is announced that did not happen and nothing that happened
goes unannounced. A deliverer claims a message with a short lease in its own
name and records each outcome as soon as it is known; if it dies mid-delivery
the lease runs out and another delivery picks the message up. Only a death
between a send and its record repeats a message, with the same idempotency
key, so the gateway can drop it.

A message that was sent waits for its provider's receipt (ZNS, SMS): delivered,
or failed, which sends the same kind on the owner's next channel as a new
message that names the one it replaces (falls_back_from_id).
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime, enum_column, utcnow


class Channel(enum.Enum):
    WEBHOOK = "webhook"  # a generic signed gateway of the installation's own
    EMAIL = "email"
    ZNS = "zns"  # Zalo ZNS template messages
    SMS = "sms"  # SMS brandname, through the configured gateway (eSMS or SpeedSMS)


class MessageStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up: the configured number of tries, or a configuration error an admin must fix
    DELIVERED = "delivered"  # the provider's receipt says it reached the phone
    FAILED = "failed"  # the provider refused this recipient, or its receipt says it did not arrive


S = MessageStatus
MESSAGE_TRANSITIONS: dict[tuple[MessageStatus, str], MessageStatus] = {
    (S.PENDING, "send"): S.SENT,
    (S.PENDING, "give_up"): S.DEAD,
    (S.PENDING, "refuse"): S.FAILED,
    (S.SENT, "deliver"): S.DELIVERED,
    (S.SENT, "fail"): S.FAILED,
    # No receipt in time: the next channel goes instead, and a late receipt changes nothing.
    (S.SENT, "time_out"): S.FAILED,
}
#: States no receipt or retry leaves.
FINAL_MESSAGE_STATES = frozenset(MessageStatus) - {state for (state, _) in MESSAGE_TRANSITIONS}


class MessageTransitionRefused(ValueError):
    """A message state change its transition table does not allow."""


def message_transition(status: MessageStatus, action: str) -> MessageStatus:
    """The state `action` leads to from `status`; MessageTransitionRefused when the table has no such step."""
    try:
        return MESSAGE_TRANSITIONS[(status, action)]
    except KeyError:
        raise MessageTransitionRefused(f"an outbox message cannot {action} when {status.value}") from None


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    kind: Mapped[str] = mapped_column(String(64))  # e.g. assignment.request, assignment.reminder, commitment.renewal
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300), default="")
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    status: Mapped[MessageStatus] = mapped_column(enum_column(MessageStatus), default=MessageStatus.PENDING, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, index=True)
    leased_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Which deliverer holds the lease, so it renews and releases only its own claims.
    lease_holder: Mapped[str | None] = mapped_column(String(100))
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Which gateway took it (zns, esms, speedsms, webhook, smtp), and the id it gave; receipts find the message
    #: by that id or by our idempotency key.
    provider: Mapped[str | None] = mapped_column(String(16))
    provider_message_id: Mapped[str | None] = mapped_column(String(100), index=True)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: What the provider's receipt, or its refusal, said.
    receipt_detail: Mapped[str | None] = mapped_column(Text)
    #: The message on the previous channel this one replaces, after it failed or had no receipt in time.
    falls_back_from_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), index=True)


class SchedulerLease(Base):
    """Who runs the scheduled jobs: one row per lease name, taken with a conditional UPDATE."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ProviderToken(Base):
    """A provider's current access token and its single-use refresh token (Zalo OA), shared by every process.

    Kept in the database so a restart or a second worker never spends a refresh token that another already used.
    """

    __tablename__ = "provider_tokens"

    provider: Mapped[str] = mapped_column(String(32), primary_key=True)
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str | None] = mapped_column(Text)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
