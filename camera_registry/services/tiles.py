"""Vector tiles of the lenses in an actor's reach, for QGIS and web maps."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..geo.spatial import within_envelope
from ..geo.tiles import Tile, points_tile
from ..models import Lens, Recorder
from ..models.base import utcnow
from .access import Actor
from .commitments import recorder_is_shared
from .listing import readable

LENS_LAYER = "lenses"


def lens_tile(session: Session, actor: Actor, tile: Tile, now: datetime | None = None) -> bytes:
    """Layer "lenses" of one tile: every lens the actor may read, whatever its status; b"" when none.

    Only what a map draws goes in (no owner, no recorder details), and
    `shared` says an active commitment covers the lens's recorder now.
    """
    rows = (
        select(
            Lens.id,
            Lens.status,
            Lens.kind,
            Lens.bearing_deg,
            Lens.fov_deg,
            Lens.range_m,
            recorder_is_shared(now or utcnow()).label("shared"),
            Lens.point.label("geom"),
        )
        .join(Recorder, Lens.recorder_id == Recorder.id)
        .where(readable(actor, Lens.commune_id), within_envelope(session.get_bind(), Lens.point, tile.bounds()))
    )
    return points_tile(session, rows, LENS_LAYER, tile)
