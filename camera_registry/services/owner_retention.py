"""Owners' retention (Law 91/2025/QH15: personal data is kept no longer than its purpose needs): an owner with no
recorder in the programme (none active or offline) and no open data-subject request is anonymised
OWNER_RETENTION_DAYS after the last thing the register did with them, as a deletion request would
(subject_requests.erase_owner): the counts and the audit trail's facts stay. 0 turns it off.

"The last thing" is the latest of: an audited change to the owner or one of their recorders, an answer to an
assignment or its preservation deadline, and a commitment's signature, revocation or end. Clips follow the
evidence retention (CLIP_RETENTION_DAYS, services/evidence/storage.py), not this one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, and_, cast, exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from ..db import write_unit
from ..models import (
    OPEN_SUBJECT_REQUEST_STATES,
    Assignment,
    AuditEvent,
    Owner,
    Recorder,
    RecorderStatus,
    SharingCommitment,
    SubjectRequest,
)
from .access import SYSTEM
from .audit import record
from .owners import ANONYMISED_NAME
from .subject_requests import erase_owner


@dataclass(frozen=True)
class RetentionSettings:
    owner_retention: timedelta | None  # None: never anonymise by age

    @classmethod
    def from_config(cls, config) -> RetentionSettings:
        days = float(config["OWNER_RETENTION_DAYS"])
        return cls(timedelta(days=days) if days > 0 else None)


def retention_settings(settings: object) -> RetentionSettings:
    """Given, or read from the environment as the app reads it (the scheduler hands jobs its notification
    settings; this job takes its own from the same place, as the clip jobs do)."""
    if isinstance(settings, RetentionSettings):
        return settings
    from .. import config

    return RetentionSettings.from_config(config.from_environment())


def candidates(session: Session, only: int | None = None) -> list[int]:
    """Owners not yet anonymised, with no recorder in the programme (active or offline) and no open data-subject
    request (`only`: that one)."""
    # An offline recorder is still in the programme (out of order for a while); a removed one has left it.
    active_recorder = exists().where(Recorder.owner_id == Owner.id, Recorder.status != RecorderStatus.REMOVED)
    open_request = exists().where(
        SubjectRequest.owner_id == Owner.id, SubjectRequest.status.in_(OPEN_SUBJECT_REQUEST_STATES)
    )
    statement = select(Owner.id).where(Owner.name != ANONYMISED_NAME, ~active_recorder, ~open_request)
    if only is not None:
        statement = statement.where(Owner.id == only)
    return list(session.scalars(statement.order_by(Owner.id)))


def last_activity(session: Session, owner_id: int) -> datetime | None:
    """The latest dated fact about the owner (see the module's text); None when there is none."""
    recorder_ids = select(cast(Recorder.id, String)).where(Recorder.owner_id == owner_id)
    audited = select(func.max(AuditEvent.occurred_at)).where(
        (and_(AuditEvent.entity_type == "owner", AuditEvent.entity_id == str(owner_id)))
        | (and_(AuditEvent.entity_type == "recorder", AuditEvent.entity_id.in_(recorder_ids)))
    )
    assignments = select(func.max(Assignment.answered_at), func.max(Assignment.preservation_deadline)).where(
        Assignment.owner_id == owner_id
    )
    commitments = select(
        func.max(SharingCommitment.signed_at),
        func.max(SharingCommitment.revoked_at),
        func.max(SharingCommitment.valid_until),
    ).where(SharingCommitment.owner_id == owner_id)
    moments = [session.scalar(audited), *session.execute(assignments).one(), *session.execute(commitments).one()]
    return max((moment for moment in moments if moment is not None), default=None)


def _due(session: Session, owner_id: int, cutoff: datetime) -> bool:
    last = last_activity(session, owner_id)
    return last is not None and last <= cutoff


def apply_owner_retention(session_factory: sessionmaker, settings: object, now: datetime) -> Counter:
    """Scheduled: anonymise each owner past the retention period, one write unit each, checked again inside it
    (a recorder activated or a request filed meanwhile keeps the owner)."""
    retention = retention_settings(settings).owner_retention
    if retention is None:
        return Counter()
    cutoff = now - retention
    with session_factory() as session:
        due = [owner_id for owner_id in candidates(session) if _due(session, owner_id, cutoff)]

    def anonymise(session: Session, owner_id: int) -> int:
        if not candidates(session, owner_id) or not _due(session, owner_id, cutoff):
            return 0
        scrubbed = erase_owner(session, SYSTEM, owner_id, now)
        record(session, SYSTEM, "owner.retention_anonymise", "owner", owner_id, details=scrubbed)
        return 1

    anonymised = sum(
        write_unit(session_factory, lambda session, owner_id=owner_id: anonymise(session, owner_id)) for owner_id in due
    )
    return Counter({"anonymised": anonymised}) if anonymised else Counter()
