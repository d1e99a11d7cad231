"""Recorders (đầu thu) and lenses (mắt camera): placement, listing and changes.

A recorder's or lens's commune is derived from its point when written
(services.registry), so reach checks run after the point is set. Changes and
removals may name the version they were read at (`expected_version`); a stale
one is refused with 409 (services.records).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from ..geo.spatial import Envelope, distance_to_metres, within_envelope, within_metres
from ..models import WGS84, AdminUnit, Lens, LensKind, LensStatus, Owner, Recorder, RecorderStatus, Site
from .access import Actor
from .commitments import mark_shared
from .errors import ValidationFailed
from .listing import Page, page_of, readable
from .messages import Message, domain_term, field_refusal, joined, refusal
from .records import add_new, apply_changes, get_readable, get_writable, require_unique
from .rules import check_bearing, check_fov, check_lon_lat, check_range, check_retention


@dataclass(frozen=True)
class PlaceFilter:
    """Where to look: a lon/lat box, or a radius in metres around a point."""

    bbox: Envelope | None = None
    near: Point | None = None
    radius_m: float | None = None


def _in_place(session: Session, statement: Select, model, place: PlaceFilter) -> Select:
    bind = session.get_bind()
    if place.bbox is not None:
        statement = statement.where(within_envelope(bind, model.point, place.bbox))
    if place.near is not None:
        statement = statement.where(within_metres(bind, model.point, place.near, place.radius_m))
        statement = statement.order_by(None).order_by(distance_to_metres(bind, model.point, place.near), model.id)
    return statement


def _camera_page(
    session: Session,
    actor: Actor,
    model,
    commune_code: str | None,
    place: PlaceFilter,
    page: int,
    page_size: int,
    **equal_to,
) -> Page:
    """One page of the recorders or lenses in reach, in the commune and place asked for, each given attribute
    (None: any) as asked, with whether a commitment covers them now."""
    statement = select(model).where(readable(actor, model.commune_id)).order_by(model.id)
    if commune_code is not None:
        statement = statement.join(AdminUnit, model.commune_id == AdminUnit.id).where(AdminUnit.code == commune_code)
    for name, value in equal_to.items():
        if value is not None:
            statement = statement.where(getattr(model, name) == value)
    found = page_of(session, _in_place(session, statement, model, place), page, page_size)
    return Page(mark_shared(session, found.items), found.total)


def list_recorders(
    session: Session,
    actor: Actor,
    *,
    commune_code: str | None = None,
    status: RecorderStatus | None = None,
    owner_id: int | None = None,
    place: PlaceFilter = PlaceFilter(),
    page: int = 1,
    page_size: int = 50,
) -> Page[Recorder]:
    return _camera_page(
        session, actor, Recorder, commune_code, place, page, page_size, status=status, owner_id=owner_id
    )


def list_lenses(
    session: Session,
    actor: Actor,
    *,
    commune_code: str | None = None,
    status: LensStatus | None = None,
    kind=None,
    recorder_id: int | None = None,
    place: PlaceFilter = PlaceFilter(),
    page: int = 1,
    page_size: int = 50,
) -> Page[Lens]:
    return _camera_page(
        session, actor, Lens, commune_code, place, page, page_size, status=status, kind=kind, recorder_id=recorder_id
    )


def get_recorder(session: Session, actor: Actor, recorder_id: int) -> Recorder:
    return _shared(session, get_readable(session, actor, Recorder, recorder_id, "recorder"))


def get_lens(session: Session, actor: Actor, lens_id: int) -> Lens:
    return _shared(session, get_readable(session, actor, Lens, lens_id, "lens"))


def _shared(session: Session, camera):
    return mark_shared(session, [camera])[0]


def _check(reasons: dict[str, Message | None]) -> None:
    errors = {field: [reason] for field, reason in reasons.items() if reason}
    if errors:
        raise ValidationFailed(joined([field_refusal(field, r[0]) for field, r in errors.items()], "; "), errors)


def _point(point: Point, field: str = "point"):
    _check({field: check_lon_lat(point.x, point.y)})
    return from_shape(point, srid=WGS84)


def _placed_in_reach(session: Session, actor: Actor, obj, what: str) -> None:
    """After the point is set, the derived commune must be one the actor may write."""
    session.flush()
    if obj.commune_id is None and not actor.is_admin:
        raise ValidationFailed(
            refusal("%(what)s lies outside every current commune", what=domain_term(what)),
            {"point": [refusal("lies outside every current commune boundary")]},
        )
    actor.require_write(obj.commune_id, refusal("%(what)s placed in another commune", what=domain_term(what)))


def _reference(session: Session, actor: Actor, model, record_id: int | None, field: str, what: str):
    if record_id is None:
        return None
    obj = session.get(model, record_id)
    if obj is None or not actor.can_read(obj.commune_id):
        raise ValidationFailed.unknown(field, what, record_id)
    return obj


RECORDER_REFERENCES = {"owner_id": (Owner, "owner"), "site_id": (Site, "site")}
LENS_REFERENCES = {"recorder_id": (Recorder, "recorder")}


def _prepared(
    session: Session,
    actor: Actor,
    model,
    what: str,
    values: dict[str, Any],
    references: dict,
    exclude_id: int | None = None,
) -> dict[str, Any]:
    """Values checked and turned into model attributes: unique external id, referenced rows, WGS84 point."""
    values = dict(values)
    if "external_id" in values:
        require_unique(session, model, "external_id", values["external_id"], what, exclude_id=exclude_id)
    for field, (referenced, attribute) in references.items():
        if field in values:
            values[attribute] = _reference(session, actor, referenced, values.pop(field), field, attribute)
    if "point" in values:
        values["point"] = _point(values["point"])
    return values


def _written(session: Session, actor: Actor, camera, what: str, changes: dict[str, Any] | None = None):
    """Write a new or changed camera, then hold it to the actor's reach where its point puts it."""
    if changes is None:
        add_new(session, actor, camera, what)
    else:
        apply_changes(session, actor, camera, changes, f"{what}.update", what)
    _placed_in_reach(session, actor, camera, what)
    return _shared(session, camera)


def create_recorder(
    session: Session,
    actor: Actor,
    *,
    external_id: str,
    owner_id: int,
    point: Point,
    retention_days: int,
    site_id: int | None = None,
    make: str | None = None,
    model: str | None = None,
    status: RecorderStatus = RecorderStatus.ACTIVE,
) -> Recorder:
    _check({"retention_days": check_retention(retention_days)})
    values = _prepared(
        session,
        actor,
        Recorder,
        "recorder",
        {
            "external_id": external_id,
            "owner_id": owner_id,
            "site_id": site_id,
            "point": point,
            "retention_days": retention_days,
            "make": make,
            "model": model,
            "status": status,
        },
        RECORDER_REFERENCES,
    )
    return _written(session, actor, Recorder(**values), "recorder")


def update_recorder(
    session: Session, actor: Actor, recorder_id: int, changes: dict[str, Any], *, expected_version: int | None = None
) -> Recorder:
    recorder = get_writable(session, actor, Recorder, recorder_id, "recorder", expected_version)
    if "retention_days" in changes:
        _check({"retention_days": check_retention(changes["retention_days"])})
    values = _prepared(session, actor, Recorder, "recorder", changes, RECORDER_REFERENCES, exclude_id=recorder.id)
    return _written(session, actor, recorder, "recorder", values)


def _lens_rules(values: dict[str, Any]) -> None:
    _check(
        {
            "bearing_deg": check_bearing(values.get("bearing_deg")),
            "fov_deg": check_fov(values["fov_deg"]) if "fov_deg" in values else None,
            "range_m": check_range(values["range_m"]) if "range_m" in values else None,
        }
    )


def create_lens(
    session: Session,
    actor: Actor,
    *,
    external_id: str,
    recorder_id: int,
    point: Point,
    bearing_deg: float | None = None,
    fov_deg: float = 90.0,
    range_m: float = 30.0,
    height_m: float | None = None,
    kind: LensKind = LensKind.FIXED,
    status: LensStatus = LensStatus.ACTIVE,
) -> Lens:
    values = {
        "external_id": external_id,
        "recorder_id": recorder_id,
        "point": point,
        "bearing_deg": bearing_deg,
        "fov_deg": fov_deg,
        "range_m": range_m,
        "height_m": height_m,
        "kind": kind,
        "status": status,
    }
    _lens_rules(values)
    return _written(session, actor, Lens(**_prepared(session, actor, Lens, "lens", values, LENS_REFERENCES)), "lens")


def update_lens(
    session: Session, actor: Actor, lens_id: int, changes: dict[str, Any], *, expected_version: int | None = None
) -> Lens:
    lens = get_writable(session, actor, Lens, lens_id, "lens", expected_version)
    _lens_rules(changes)
    values = _prepared(session, actor, Lens, "lens", changes, LENS_REFERENCES, exclude_id=lens.id)
    return _written(session, actor, lens, "lens", values)


def remove_recorder(
    session: Session, actor: Actor, recorder_id: int, *, expected_version: int | None = None
) -> Recorder:
    """Mark a recorder and its lenses removed; rows stay for the requests that cite them."""
    recorder = get_writable(session, actor, Recorder, recorder_id, "recorder", expected_version)
    apply_changes(session, actor, recorder, {"status": RecorderStatus.REMOVED}, "recorder.remove", "recorder")
    for lens in recorder.lenses:
        apply_changes(session, actor, lens, {"status": LensStatus.REMOVED}, "lens.remove", "lens")
    return _shared(session, recorder)


def remove_lens(session: Session, actor: Actor, lens_id: int, *, expected_version: int | None = None) -> Lens:
    lens = get_writable(session, actor, Lens, lens_id, "lens", expected_version)
    apply_changes(session, actor, lens, {"status": LensStatus.REMOVED}, "lens.remove", "lens")
    return _shared(session, lens)
