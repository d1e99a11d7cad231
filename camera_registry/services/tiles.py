"""Vector tiles of the lenses in an actor's reach, for QGIS and web maps.

A tile request is on the hot path of every map: its statement is built once
per backend and kind of reach, with the moment, the reach's communes and the
tile as bound parameters, so SQLAlchemy compiles it once and reuses it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, bindparam, false, select, true
from sqlalchemy.orm import Session

from ..geo.spatial import within_envelope
from ..geo.tiles import TILE_BOUNDS, Tile, points_tile
from ..models import Lens, Recorder
from ..models.base import utcnow
from .access import Actor
from .commitments import recorder_is_shared

LENS_LAYER = "lenses"
EVERYWHERE, NOWHERE, COMMUNES = "everywhere", "nowhere", "communes"
_REACH_TESTS = {
    EVERYWHERE: true(),
    NOWHERE: false(),
    COMMUNES: Lens.commune_id.in_(bindparam("communes", expanding=True)),
}


def lens_tile(session: Session, actor: Actor, tile: Tile, now: datetime | None = None) -> bytes:
    """Layer "lenses" of one tile: every lens the actor may read, whatever its status; b"" when none.

    Only what a map draws goes in (no owner, no recorder details), and
    `shared` says an active commitment covers the lens's recorder now.
    """
    communes = actor.readable_communes
    reach = EVERYWHERE if communes is None else COMMUNES if communes else NOWHERE
    parameters = {"moment": now or utcnow(), "communes": sorted(communes or ())}
    return points_tile(session, _lens_rows(session.get_bind(), reach), LENS_LAYER, tile, parameters)


_statements: dict[tuple[str, str], Select] = {}


def _lens_rows(bind, reach: str) -> Select:
    """One statement per backend and kind of reach, built on first use."""
    key = (bind.dialect.name, reach)
    if key not in _statements:
        _statements[key] = _build_lens_rows(bind, reach)
    return _statements[key]


def _build_lens_rows(bind, reach: str) -> Select:
    return (
        select(
            Lens.id,
            Lens.status,
            Lens.kind,
            Lens.bearing_deg,
            Lens.fov_deg,
            Lens.range_m,
            recorder_is_shared(bindparam("moment")).label("shared"),
            Lens.point.label("geom"),
        )
        .join(Recorder, Lens.recorder_id == Recorder.id)
        .where(_REACH_TESTS[reach], within_envelope(bind, Lens.point, TILE_BOUNDS))
    )
