"""Sharing commitments: signing, renewal, revocation, and which recorders they cover now."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import (
    AdminUnit,
    CommitmentChannel,
    CommitmentText,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    Owner,
    OwnerLink,
    Recorder,
    SharingCommitment,
    commitment_recorders,
)
from ..models.base import utcnow
from ..models.consent import device_facts
from ..timezones import local_today
from .access import Actor
from .audit import record
from .errors import Conflict, NotFound, ValidationFailed
from .listing import Page, page_of, readable
from .messages import domain_term, record_name, refusal


@dataclass(frozen=True)
class ConsentWay:
    """How the owner gave or withdrew their consent, for its consent record: the channel, and the link and the
    device facts (a plain dict of models.consent.DEVICE_FACTS) for the web, or the register import that brought it.
    None where a function takes one: the commitment's own channel, as an officer recorded it."""

    channel: ConsentChannel
    link: OwnerLink | None = None
    device: Mapping[str, str | None] | None = None
    import_job_id: int | None = None


def active_commitment_at(moment: datetime) -> ColumnElement[bool]:
    """Signed, unexpired and unrevoked at `moment`."""
    return and_(
        SharingCommitment.signed_at <= moment,
        or_(SharingCommitment.valid_until.is_(None), SharingCommitment.valid_until > moment),
        or_(SharingCommitment.revoked_at.is_(None), SharingCommitment.revoked_at > moment),
    )


def last_day_in_force(valid_until: datetime) -> date:
    """The last Vietnamese day a commitment holds: valid_until is exclusive, so one ending at local midnight
    starting day D+1 holds through day D. Every page and message names the end date by this one rule."""
    return local_today(valid_until - timedelta(microseconds=1))


def current_commitment(session: Session, owner: Owner, moment: datetime) -> SharingCommitment | None:
    """The commitment an owner's page is about: the newest one in force at `moment`, else the newest signed."""
    newest = (
        select(SharingCommitment)
        .where(SharingCommitment.owner_id == owner.id)
        .order_by(SharingCommitment.signed_at.desc(), SharingCommitment.id.desc())
        .limit(1)
    )
    return session.scalar(newest.where(active_commitment_at(moment))) or session.scalar(newest)


def recorder_is_shared(moment: datetime) -> ColumnElement[bool]:
    """Correlated test: an active commitment of the recorder's owner covers it."""
    # Auto-correlation reaches only the enclosing SELECT (commitments); without
    # correlate_except this subquery gets its own FROM recorders and a list
    # naming any one recorder would cover all of the owner's.
    listed = exists(
        select(commitment_recorders.c.recorder_id)
        .where(
            commitment_recorders.c.commitment_id == SharingCommitment.id,
            commitment_recorders.c.recorder_id == Recorder.id,
        )
        .correlate_except(commitment_recorders)
    )
    return exists(
        select(SharingCommitment.id).where(
            SharingCommitment.owner_id == Recorder.owner_id,
            active_commitment_at(moment),
            or_(SharingCommitment.all_recorders, listed),
        )
    )


def shared_recorder_ids(session: Session, recorder_ids: list[int], moment: datetime) -> set[int]:
    """Which of these recorders an active commitment covers at `moment`."""
    if not recorder_ids:
        return set()
    return set(session.scalars(select(Recorder.id).where(Recorder.id.in_(recorder_ids), recorder_is_shared(moment))))


def mark_shared(session: Session, cameras: list, moment: datetime | None = None) -> list:
    """Annotate recorders or lenses with `shared` (computed per read, never stored)."""
    moment = moment or utcnow()
    recorder_id = (lambda c: c.id) if cameras and isinstance(cameras[0], Recorder) else (lambda c: c.recorder_id)
    shared = shared_recorder_ids(session, sorted({recorder_id(c) for c in cameras}), moment)
    for camera in cameras:
        camera.shared = recorder_id(camera) in shared
    return cameras


def list_commitments(
    session: Session,
    actor: Actor,
    *,
    owner_id: int | None = None,
    active: bool | None = None,
    commune_code: str | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[SharingCommitment]:
    statement = (
        select(SharingCommitment)
        .join(Owner, SharingCommitment.owner_id == Owner.id)
        .where(readable(actor, Owner.commune_id))
        .order_by(SharingCommitment.id)
    )
    if owner_id is not None:
        statement = statement.where(SharingCommitment.owner_id == owner_id)
    if commune_code is not None:
        statement = statement.join(AdminUnit, Owner.commune_id == AdminUnit.id).where(AdminUnit.code == commune_code)
    if active is not None:
        condition = active_commitment_at(utcnow())
        statement = statement.where(condition if active else ~condition)
    return page_of(session, statement, page, page_size)


def _commitment(session: Session, actor: Actor, commitment_id: int, *, write: bool) -> SharingCommitment:
    commitment = session.get(SharingCommitment, commitment_id)
    if commitment is None or not actor.can_read(commitment.owner.commune_id):
        raise NotFound.of("commitment", commitment_id)
    if write:
        actor.require_write(commitment.owner.commune_id, record_name("commitment", commitment_id))
    return commitment


def get_commitment(session: Session, actor: Actor, commitment_id: int) -> SharingCommitment:
    return _commitment(session, actor, commitment_id, write=False)


def _officer_way(consent_channel: ConsentChannel | None) -> ConsentWay | None:
    """An officer records what the owner gave on paper or said on site; None: as the commitment's channel says."""
    return ConsentWay(consent_channel) if consent_channel is not None else None


def sign_commitment(
    session: Session, actor: Actor, *, owner_id: int, consent_channel: ConsentChannel | None = None, **terms
) -> SharingCommitment:
    """Record a signed commitment covering all the owner's recorders, or the listed ones, for an owner in the
    actor's reach; `terms` are the keywords of `record_signature` (validity, channel, text, recorders)."""
    owner = session.get(Owner, owner_id)
    if owner is None or not actor.can_read(owner.commune_id):
        raise ValidationFailed.unknown("owner_id", "owner", owner_id)
    actor.require_write(owner.commune_id, refusal("commitments of owner %(owner)s", owner=owner_id))
    return record_signature(session, actor, owner, way=_officer_way(consent_channel), **terms)


def record_signature(
    session: Session,
    actor: Actor,
    owner: Owner,
    *,
    valid_until: datetime | None,
    channel: CommitmentChannel,
    text_version: str,
    signed_at: datetime | None = None,
    recorder_ids: list[int] | None = None,
    text: str | None = None,
    text_language: str | None = None,
    way: ConsentWay | None = None,
    purpose: ConsentPurpose = ConsentPurpose.COMMITMENT_SIGNED,
) -> SharingCommitment:
    """Sign for `owner` without a reach check: the caller has settled that `actor` may (police reach, owner link).
    `text` is the full text the owner read in `text_language` (an owner link): stored once per version and
    language (`stored_text`), the signature points at it, and the audit trail keeps it beside its version.
    The signature's consent record is written with it (`way`: how it was given)."""
    signed_at = signed_at or utcnow()
    if valid_until is not None and valid_until <= signed_at:
        raise ValidationFailed(
            refusal("a commitment must end after it is signed"),
            {"valid_until": [refusal("must be after %(other)s", other=domain_term("signed_at"))]},
        )
    recorders = []
    for recorder_id in recorder_ids or []:
        recorder = session.get(Recorder, recorder_id)
        if recorder is None or recorder.owner_id != owner.id:
            raise ValidationFailed(
                refusal("recorder %(recorder)s is not this owner's", recorder=recorder_id),
                {
                    "recorder_ids": [
                        refusal(
                            "recorder %(recorder)s does not belong to owner %(owner)s",
                            recorder=recorder_id,
                            owner=owner.id,
                        )
                    ]
                },
            )
        recorders.append(recorder)
    commitment = SharingCommitment(
        owner=owner,
        all_recorders=not recorders,
        recorders=recorders,
        signed_at=signed_at,
        valid_until=valid_until,
        channel=channel,
        text_version=text_version,
        text=stored_text(session, text_version, text_language, text) if text is not None else None,
    )
    session.add(commitment)
    session.flush()
    record(
        session,
        actor,
        "commitment.sign",
        "commitment",
        commitment.id,
        details={
            "owner_id": owner.id,
            "recorder_ids": [r.id for r in recorders],
            "text_version": text_version,
            **({"text": text, "text_id": commitment.text_id} if text is not None else {}),
        },
    )
    record_consent(session, actor, commitment, purpose, signed_at, way)
    return commitment


def record_consent(
    session: Session,
    actor: Actor,
    commitment: SharingCommitment,
    purpose: ConsentPurpose,
    given_at: datetime,
    way: ConsentWay | None = None,
) -> ConsentRecord:
    """The consent record of a commitment signed, renewed or withdrawn. Its notice is the commitment's stored
    text; a paper commitment recorded without one keeps its version alone."""
    way = way or ConsentWay(ConsentChannel.of_commitment(commitment.channel))
    text = commitment.text
    consent = ConsentRecord(
        owner_id=commitment.owner_id,
        purpose=purpose,
        channel=way.channel,
        given_at=given_at,
        notice_version=commitment.text_version,
        notice_text=text.body if text else None,
        notice_sha256=text.sha256 if text else None,
        language=text.language if text else commitment.owner.language or "vi",
        commitment_text=text,
        commitment_id=commitment.id,
        owner_link_id=way.link.id if way.link else None,
        recorded_by_user_id=actor.user_id,
        import_job_id=way.import_job_id,
        **(device_facts(way.device) if way.link else {}),
    )
    session.add(consent)
    session.flush()
    return consent


def text_digest(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def _kept_text(session: Session, version: str, language: str) -> CommitmentText | None:
    return session.scalar(
        select(CommitmentText).where(CommitmentText.version == version, CommitmentText.language == language)
    )


def get_text(session: Session, text_id: int) -> CommitmentText:
    """A stored text signed (or about to be): the same words for everyone who may read the signatures."""
    text = session.get(CommitmentText, text_id)
    if text is None:
        raise NotFound.of("commitment text", text_id)
    return text


def stored_text(session: Session, version: str, language: str | None, body: str) -> CommitmentText:
    """The row of the text an owner read: the one kept for its version and language, else a new one.

    Refused (Conflict) when the row kept for that version and language holds other words: a text edited under an
    old version number would make the earlier signatures point at words their owners never read."""
    language = language or "vi"
    kept = _kept_text(session, version, language)
    if kept is None:
        try:
            with session.begin_nested():
                kept = CommitmentText(version=version, language=language, body=body, sha256=text_digest(body))
                session.add(kept)
            return kept
        except IntegrityError:  # a signature at the same moment stored it first
            kept = _kept_text(session, version, language)
    if kept.sha256 != text_digest(body):
        raise Conflict(
            refusal(
                "the commitment text %(version)s (%(language)s) differs from the one signed before under that version",
                version=version,
                language=language,
            ),
            {
                "text_version": [
                    refusal("the text of version %(version)s changed: give the new text a new version", version=version)
                ]
            },
        )
    return kept


def renew_commitment(
    session: Session, actor: Actor, commitment_id: int, consent_channel: ConsentChannel | None = None, **terms
) -> SharingCommitment:
    """Renew a commitment in the actor's reach; `terms` are the keywords of `record_renewal`."""
    commitment = _commitment(session, actor, commitment_id, write=True)
    return record_renewal(session, actor, commitment, way=_officer_way(consent_channel), **terms)


def record_renewal(
    session: Session,
    actor: Actor,
    previous: SharingCommitment,
    *,
    valid_until: datetime | None,
    channel: CommitmentChannel,
    text_version: str | None = None,
    text: str | None = None,
    text_language: str | None = None,
    way: ConsentWay | None = None,
) -> SharingCommitment:
    """A renewal is a new signature with the same scope; the old row stays as history. No reach check."""
    if previous.revoked_at is not None:
        raise Conflict(
            refusal(
                "%(commitment)s was revoked; sign a new one instead", commitment=record_name("commitment", previous.id)
            ),
            {"commitment": [refusal("revoked commitments cannot be renewed")]},
        )
    return record_signature(
        session,
        actor,
        previous.owner,
        valid_until=valid_until,
        channel=channel,
        text_version=text_version or previous.text_version,
        recorder_ids=None if previous.all_recorders else [r.id for r in previous.recorders],
        text=text,
        text_language=text_language,
        way=way,
        purpose=ConsentPurpose.COMMITMENT_RENEWED,
    )


def revoke_commitment(
    session: Session,
    actor: Actor,
    commitment_id: int,
    reason: str | None = None,
    consent_channel: ConsentChannel | None = None,
) -> SharingCommitment:
    commitment = _commitment(session, actor, commitment_id, write=True)
    return record_revocation(session, actor, commitment, reason, _officer_way(consent_channel))


def record_revocation(
    session: Session,
    actor: Actor,
    commitment: SharingCommitment,
    reason: str | None = None,
    way: ConsentWay | None = None,
) -> SharingCommitment:
    """Stamp `revoked_at` (the row stays as history) and write the withdrawal's consent record. No reach check."""
    if commitment.revoked_at is not None:
        raise Conflict(
            refusal("%(commitment)s is already revoked", commitment=record_name("commitment", commitment.id)),
            {"commitment": [refusal("already revoked")]},
        )
    commitment.revoked_at = utcnow()
    session.flush()
    record(session, actor, "commitment.revoke", "commitment", commitment.id, note=reason)
    record_consent(session, actor, commitment, ConsentPurpose.COMMITMENT_WITHDRAWN, commitment.revoked_at, way)
    return commitment


def record_owner_revocation(
    session: Session,
    actor: Actor,
    owner: Owner,
    moment: datetime,
    reason: str | None = None,
    way: ConsentWay | None = None,
) -> list[SharingCommitment]:
    """The owner withdraws: every commitment of theirs in force at `moment` is revoked, since a renewal leaves
    the row it renews in force until its own end. No reach check."""
    in_force = session.scalars(
        select(SharingCommitment)
        .where(SharingCommitment.owner_id == owner.id, active_commitment_at(moment))
        .order_by(SharingCommitment.id)
    ).all()
    return [record_revocation(session, actor, commitment, reason, way) for commitment in in_force]
