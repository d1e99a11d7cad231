"""The notification outbox and the scheduler's single-runner lease.

A message is written in the same transaction as the state change it tells
about, so nothing is announced that did not happen and nothing that happened
goes unannounced. A deliverer claims a message with a short lease in its own
name and records each outcome as soon as it is known; if it dies mid-delivery
the lease runs out and another delivery picks the message up. Only a death
between a send and its record repeats a message, with the same idempotency
key, so the gateway can drop it.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UtcDateTime, enum_column, utcnow


class Channel(enum.Enum):
    WEBHOOK = "webhook"  # an SMS/Zalo gateway
    EMAIL = "email"


class MessageStatus(enum.Enum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"  # gave up after the configured number of tries


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


class SchedulerLease(Base):
    """Who runs the scheduled jobs: one row per lease name, taken with a conditional UPDATE."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
