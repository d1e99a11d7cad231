"""Data-subject requests (Law 91/2025/QH15 on personal data protection, Decree 356/2025/NĐ-CP): an owner asks to
see, correct, restrict or delete what the registry holds about them, through their link or through an officer.

Each request carries its legal clocks as stored facts, set when it is filed: acknowledged by the end of the second
working day, completed by the end of the 15th day (the 20th where a processor holds part of the data). The
deadline may be extended once, by at most 15 days, with a reason: the extension is a fact on the request
(`extended_until`, `extension_reason`), not a state, since an extended request is still one awaiting completion.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column
from .owner import Owner
from .owner_link import OwnerLink
from .user import User


class SubjectRequestKind(enum.Enum):
    ACCESS = "access"  # see everything held about them, as an export
    CORRECTION = "correction"  # correct their owner record
    RESTRICTION = "restriction"  # keep the data but use it only where the law needs no consent
    DELETION = "deletion"  # anonymise them; the counts and the audit trail's facts stay


class SubjectRequestChannel(enum.Enum):
    """How the request reached the registry: the owner's own link page, or an officer who took it down."""

    OWNER_LINK = "owner_link"
    IN_PERSON = "in_person"
    PHONE = "phone"
    PAPER = "paper"
    EMAIL = "email"


class SubjectRequestStatus(enum.Enum):
    RECEIVED = "received"
    ACKNOWLEDGED = "acknowledged"
    COMPLETED = "completed"
    #: Not done, with the reason in `outcome_note` (not the owner's, an identity not established...).
    REFUSED = "refused"


R = SubjectRequestStatus
SUBJECT_REQUEST_TRANSITIONS: dict[tuple[SubjectRequestStatus, str], SubjectRequestStatus] = {
    (R.RECEIVED, "acknowledge"): R.ACKNOWLEDGED,
    (R.RECEIVED, "refuse"): R.REFUSED,
    # Once, with a reason (checked by the service): the request stays acknowledged, with a later deadline.
    (R.ACKNOWLEDGED, "extend"): R.ACKNOWLEDGED,
    (R.ACKNOWLEDGED, "complete"): R.COMPLETED,
    (R.ACKNOWLEDGED, "refuse"): R.REFUSED,
}
OPEN_SUBJECT_REQUEST_STATES = frozenset(state for (state, _) in SUBJECT_REQUEST_TRANSITIONS)
FINAL_SUBJECT_REQUEST_STATES = frozenset(SubjectRequestStatus) - OPEN_SUBJECT_REQUEST_STATES


class SubjectRequest(Base):
    __tablename__ = "subject_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    kind: Mapped[SubjectRequestKind] = mapped_column(enum_column(SubjectRequestKind))
    status: Mapped[SubjectRequestStatus] = mapped_column(
        enum_column(SubjectRequestStatus), default=SubjectRequestStatus.RECEIVED, index=True
    )
    channel: Mapped[SubjectRequestChannel] = mapped_column(enum_column(SubjectRequestChannel))
    #: The owner's own words: what they ask for.
    details: Mapped[str] = mapped_column(Text, default="")
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: The officer who filed it on the owner's behalf; None: the owner, through `filed_through_link_id`.
    filed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    filed_through_link_id: Mapped[int | None] = mapped_column(ForeignKey("owner_links.id"))
    #: A processor (a contractor, a provider) holds part of the data: 20 days to complete, not 15.
    processor_involved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    acknowledge_by: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    complete_by: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    acknowledged_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    extended_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    extension_reason: Mapped[str | None] = mapped_column(Text)
    extended_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    closed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome_note: Mapped[str | None] = mapped_column(Text)
    #: A correction's changes as applied: the owner fields' names only (their values are personal data).
    corrected_fields: Mapped[list | None] = mapped_column(JSON)
    #: Bumped on every change; a write naming a stale version is refused (409).
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    owner: Mapped[Owner] = relationship()
    filed_by: Mapped[User | None] = relationship(foreign_keys=[filed_by_user_id])
    filed_through_link: Mapped[OwnerLink | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def due(self) -> datetime:
        """By when it must be completed: the extended deadline once extended."""
        return self.extended_until or self.complete_by

    def acknowledgement_overdue(self, now: datetime) -> bool:
        """Acknowledged late, or not yet and late already (a request refused unacknowledged: by its refusal)."""
        return (self.acknowledged_at or self.closed_at or now) > self.acknowledge_by

    def completion_overdue(self, now: datetime) -> bool:
        return (self.closed_at or now) > self.due
