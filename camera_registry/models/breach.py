"""Personal data breach records (Law 91/2025/QH15, Decree 356/2025/NĐ-CP): what happened, whose data, and when
the authority (A05, the Ministry of Public Security's cybersecurity department) was told.

The controller must notify A05 within 72 hours of discovering a breach, so `discovered_at` starts the clock
(services/breaches.py computes it). A record moves open -> notified -> closed; its facts may be corrected until
it is closed, and every change is audited.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Integer, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column, utcnow
from .owner import Owner
from .user import User


class BreachStatus(enum.Enum):
    #: Recorded; the authority not told yet.
    OPEN = "open"
    #: The notification was sent to A05 (`notified_at`).
    NOTIFIED = "notified"
    #: The measures are done and the record is settled; nothing changes any more.
    CLOSED = "closed"


class BreachDataCategory(enum.Enum):
    """The kinds of personal data the registry holds, so a record says which were exposed."""

    #: Owners' names, phone numbers, e-mail and postal addresses.
    OWNER_CONTACTS = "owner_contacts"
    #: Where owners' cameras are and what they see.
    CAMERA_LOCATIONS = "camera_locations"
    #: Footage clips owners uploaded for a request.
    FOOTAGE = "footage"
    #: Signed sharing commitments and the consent evidence with them.
    COMMITMENTS = "commitments"
    #: Staff accounts: names, usernames, units.
    STAFF_ACCOUNTS = "staff_accounts"


B = BreachStatus
BREACH_TRANSITIONS: dict[tuple[BreachStatus, str], BreachStatus] = {
    (B.OPEN, "update"): B.OPEN,
    (B.OPEN, "notify"): B.NOTIFIED,
    (B.NOTIFIED, "update"): B.NOTIFIED,
    (B.NOTIFIED, "close"): B.CLOSED,
}
FINAL_BREACH_STATES = frozenset(BreachStatus) - {state for (state, _) in BREACH_TRANSITIONS}


class BreachTransitionRefused(ValueError):
    """A breach record state change its transition table does not allow."""


def breach_transition(status: BreachStatus, action: str) -> BreachStatus:
    try:
        return BREACH_TRANSITIONS[(status, action)]
    except KeyError:
        raise BreachTransitionRefused(f"a breach record cannot {action} when {status.value}") from None


#: The owners whose data the breach touched, when they are known one by one.
breach_owners = Table(
    "breach_owners",
    Base.metadata,
    Column("breach_id", ForeignKey("breaches.id", ondelete="CASCADE"), primary_key=True),
    # An owner erased on request leaves the record; its affected count still tells how many were touched.
    Column("owner_id", ForeignKey("owners.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Breach(Base):
    __tablename__ = "breaches"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: What happened: the act, the place (system, file, device), how it was found.
    description: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Starts the 72-hour notification clock.
    discovered_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    #: BreachDataCategory values.
    data_categories: Mapped[list] = mapped_column(JSON, default=list)
    #: Whose data, when not (only) listed owners: the categories of people, e.g. "owners of commune X".
    affected_description: Mapped[str | None] = mapped_column(Text)
    #: How many people's data, as far as known.
    affected_count: Mapped[int | None] = mapped_column(Integer)
    likely_consequences: Mapped[str | None] = mapped_column(Text)
    #: Measures taken or planned to stop the breach and limit its harm.
    measures: Mapped[str | None] = mapped_column(Text)
    status: Mapped[BreachStatus] = mapped_column(enum_column(BreachStatus), default=BreachStatus.OPEN, index=True)
    #: When the notification to A05 was sent, and its reference (dispatch number, portal receipt).
    notified_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    notification_reference: Mapped[str | None] = mapped_column(Text)
    #: Why the notification came after the 72 hours, which the notification itself must say.
    late_reason: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    #: Bumped on every change; a write names the version it read and a stale one is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    recorded_by: Mapped[User] = relationship()
    owners: Mapped[list[Owner]] = relationship(secondary=breach_owners, order_by=Owner.id)

    __mapper_args__ = {"version_id_col": version}
