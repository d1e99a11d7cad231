"""Administrative units: read by every signed-in role, changed by administrators.

A commune's police duty phone must be a mobile number, stored normalised like
owners' phones: escalations reach it by SMS, which no landline receives.
"""

from __future__ import annotations

from datetime import date

from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from ..models import WGS84, AdminLevel, AdminUnit
from .access import Actor
from .channels.phones import entered_phone
from .errors import NotFound, ValidationFailed
from .listing import Page, page_of
from .messages import domain_term, refusal
from .records import add_new, apply_changes, require_unique, unit_on
from .registry import ReassignReport, reassign_communes


def list_admin_units(
    session: Session,
    *,
    level: AdminLevel | None = None,
    parent_code: str | None = None,
    on: date | None = None,
    page: int = 1,
    page_size: int = 50,
) -> Page[AdminUnit]:
    """Units valid on `on` (all of history when None), filtered by level and parent."""
    statement = select(AdminUnit).order_by(AdminUnit.code)
    if level is not None:
        statement = statement.where(AdminUnit.level == level)
    if parent_code is not None:
        parent = aliased(AdminUnit)
        statement = statement.join(parent, AdminUnit.parent_id == parent.id).where(parent.code == parent_code)
    if on is not None:
        statement = statement.where(
            AdminUnit.valid_on(on),
        )
    return page_of(session, statement, page, page_size)


def get_admin_unit(session: Session, code: str, on: date | None = None) -> AdminUnit:
    """The version of `code` in force on `on` (today by default), or its latest one when none is."""
    unit = unit_on(session, code, on)
    if unit is None:
        raise NotFound.of("admin unit", code)
    return unit


def _parent(session: Session, parent_code: str | None, level: AdminLevel) -> AdminUnit | None:
    if parent_code is None:
        if level != AdminLevel.PROVINCE:
            raise ValidationFailed(
                refusal("a district or commune needs a parent"),
                {"parent_code": [refusal("required below province level")]},
            )
        return None
    parent = unit_on(session, parent_code)
    if parent is None:
        raise ValidationFailed(
            refusal("unknown parent %(code)s", code=parent_code),
            {"parent_code": [refusal("no admin unit has code %(code)s", code=repr(parent_code))]},
        )
    allowed = {
        AdminLevel.DISTRICT: {AdminLevel.PROVINCE},
        AdminLevel.COMMUNE: {AdminLevel.PROVINCE, AdminLevel.DISTRICT},
    }
    if parent.level not in allowed.get(level, set()):
        raise ValidationFailed(
            refusal("parent level does not fit"),
            {
                "parent_code": [
                    refusal(
                        "a %(level)s cannot sit under a %(parent)s",
                        level=domain_term(level.value),
                        parent=domain_term(parent.level.value),
                    )
                ]
            },
        )
    return parent


def _boundary(geometry: BaseGeometry | None):
    if geometry is None:
        return None
    return from_shape(geometry if isinstance(geometry, MultiPolygon) else MultiPolygon([geometry]), srid=WGS84)


def create_admin_unit(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    level: AdminLevel,
    parent_code: str | None = None,
    boundary: BaseGeometry | None = None,
    valid_from: date | None = None,
    valid_to: date | None = None,
    police_phone: str | None = None,
) -> AdminUnit:
    actor.require_admin()
    require_unique(session, AdminUnit, "code", code, "admin unit")
    _check_validity(valid_from, valid_to)
    return add_new(
        session,
        actor,
        AdminUnit(
            code=code,
            level=level,
            name=name,
            parent=_parent(session, parent_code, level),
            boundary=_boundary(boundary),
            valid_from=valid_from,
            valid_to=valid_to,
            police_phone=entered_phone(police_phone, "police_phone"),
        ),
        "admin_unit",
    )


def update_admin_unit(
    session: Session, actor: Actor, code: str, changes: dict
) -> tuple[AdminUnit, ReassignReport | None]:
    """Change a unit; a new boundary or validity re-derives every camera's commune in the same transaction."""
    actor.require_admin()
    unit = get_admin_unit(session, code)
    changes = dict(changes)
    if "parent_code" in changes:
        changes["parent"] = _parent(session, changes.pop("parent_code"), unit.level)
    if "boundary" in changes:
        changes["boundary"] = _boundary(changes["boundary"])
    if "police_phone" in changes:
        changes["police_phone"] = entered_phone(changes["police_phone"], "police_phone")
    _check_validity(changes.get("valid_from", unit.valid_from), changes.get("valid_to", unit.valid_to))
    apply_changes(session, actor, unit, changes, "admin_unit.update", "admin_unit")
    moved = None
    if unit.level == AdminLevel.COMMUNE and {"boundary", "valid_from", "valid_to"} & changes.keys():
        moved = reassign_communes(session)
    return unit, moved


def _check_validity(valid_from: date | None, valid_to: date | None) -> None:
    if valid_from and valid_to and valid_to <= valid_from:
        raise ValidationFailed(
            refusal("validity ends before it starts"),
            {"valid_to": [refusal("must be after %(other)s", other=domain_term("valid_from"))]},
        )
