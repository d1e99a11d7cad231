"""Which recorders are under an active sharing commitment."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, or_, select

from ..models import Recorder, SharingCommitment, commitment_recorders


def active_commitment_at(moment: datetime) -> ColumnElement[bool]:
    """Signed, unexpired and unrevoked at `moment`."""
    return and_(
        SharingCommitment.signed_at <= moment,
        or_(SharingCommitment.valid_until.is_(None), SharingCommitment.valid_until > moment),
        or_(SharingCommitment.revoked_at.is_(None), SharingCommitment.revoked_at > moment),
    )


def recorder_is_shared(moment: datetime) -> ColumnElement[bool]:
    """Correlated test: an active commitment of the recorder's owner covers it."""
    listed = exists(
        select(commitment_recorders.c.recorder_id).where(
            commitment_recorders.c.commitment_id == SharingCommitment.id,
            commitment_recorders.c.recorder_id == Recorder.id,
        )
    )
    return exists(
        select(SharingCommitment.id).where(
            SharingCommitment.owner_id == Recorder.owner_id,
            active_commitment_at(moment),
            or_(SharingCommitment.all_recorders, listed),
        )
    )
