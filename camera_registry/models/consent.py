"""Consent records (issue 17, law 91/2025/QH15): proof of each consent an owner gave or withdrew.

One row per act, written in the same unit as the act and never changed: what the owner agreed to (the notice,
versioned and kept in full with its SHA-256), how (paper, the owner's web link, an officer on site), when, and
for the web the link used and a few facts of the device. Silence writes nothing: only an act makes a row.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UtcDateTime, enum_column
from .commitment import CommitmentChannel, CommitmentText
from .owner import Owner


class ConsentPurpose(enum.Enum):
    COMMITMENT_SIGNED = "commitment_signed"
    COMMITMENT_RENEWED = "commitment_renewed"
    COMMITMENT_WITHDRAWN = "commitment_withdrawn"
    FOOTAGE_HANDOVER_AGREED = "footage_handover_agreed"


class ConsentChannel(enum.Enum):
    """How the owner said it. A commitment's own channel (paper, web) says where its text was signed; an
    officer may also take a consent or a withdrawal by word, on site or by phone, which no commitment channel
    names."""

    PAPER = "paper"
    WEB_LINK = "web_link"
    ON_SITE = "on_site"
    PHONE = "phone"  # the owner answered a footage request by phone, and the officer recorded it

    @classmethod
    def of_commitment(cls, channel: CommitmentChannel) -> ConsentChannel:
        return cls.WEB_LINK if channel == CommitmentChannel.WEB else cls.PAPER


#: The longest device facts kept: enough to tell a phone's browser, not a fingerprint.
USER_AGENT_MAX = 255
ADDRESS_MAX = 64
ACCEPT_LANGUAGE_MAX = 64
DEVICE_FACTS = {"user_agent": USER_AGENT_MAX, "client_address": ADDRESS_MAX, "accept_language": ACCEPT_LANGUAGE_MAX}


def device_facts(facts: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """The device facts kept for a consent through the web (a plain dict from the view), each cut to its column;
    absent or empty ones are None, unknown names are dropped."""
    facts = facts or {}
    return {name: (facts.get(name) or "")[:most] or None for name, most in DEVICE_FACTS.items()}


class ConsentRecord(Base):
    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("owners.id"), index=True)
    purpose: Mapped[ConsentPurpose] = mapped_column(enum_column(ConsentPurpose))
    channel: Mapped[ConsentChannel] = mapped_column(enum_column(ConsentChannel))
    given_at: Mapped[datetime] = mapped_column(UtcDateTime())
    #: The notice the owner agreed to; None only for a paper commitment whose version's text the registry lacks.
    notice_version: Mapped[str] = mapped_column(String(32))
    notice_text: Mapped[str | None] = mapped_column(Text)
    notice_sha256: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8))
    #: A commitment's notice is its stored text; a footage handover's is kept here alone.
    commitment_text_id: Mapped[int | None] = mapped_column(ForeignKey("commitment_texts.id"))
    commitment_id: Mapped[int | None] = mapped_column(ForeignKey("sharing_commitments.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    #: The web: the link used and the device as the request showed it.
    owner_link_id: Mapped[int | None] = mapped_column(ForeignKey("owner_links.id"))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX))
    client_address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    accept_language: Mapped[str | None] = mapped_column(String(ACCEPT_LANGUAGE_MAX))
    #: The officer who took it down (paper, on site), or the register import that brought it.
    recorded_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    import_job_id: Mapped[int | None] = mapped_column(ForeignKey("import_jobs.id"))

    owner: Mapped[Owner] = relationship()
    commitment_text: Mapped[CommitmentText | None] = relationship()
