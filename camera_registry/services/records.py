"""Small steps every registry write shares: lookups, uniqueness, change sets, audit."""
from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AdminLevel, AdminUnit
from .access import Actor
from .audit import record
from .errors import Conflict, NotFound, ValidationFailed

M = TypeVar("M")


def get_readable(session: Session, actor: Actor, model: type[M], record_id: int, what: str) -> M:
    """The record, or NotFound when it is missing or out of the actor's reach (no hint which)."""
    obj = session.get(model, record_id)
    if obj is None or not actor.can_read(obj.commune_id):
        raise NotFound(f"{what} {record_id} not found")
    return obj


def get_writable(session: Session, actor: Actor, model: type[M], record_id: int, what: str) -> M:
    obj = get_readable(session, actor, model, record_id, what)
    actor.require_write(obj.commune_id, f"{what} {record_id}")
    return obj


def require_unique(session: Session, model, field: str, value: Any, what: str, exclude_id: int | None = None) -> None:
    column = getattr(model, field)
    existing = session.scalar(select(model.id).where(column == value))
    if existing is not None and existing != exclude_id:
        raise Conflict(f"{field} {value!r} is already used by {what} {existing}", {field: [f"already used by {what} {existing}"]})


def current_commune(session: Session, code: str, field: str = "commune_code") -> AdminUnit:
    unit = session.scalar(select(AdminUnit).where(AdminUnit.code == code))
    if unit is None or unit.level != AdminLevel.COMMUNE:
        raise ValidationFailed(f"unknown commune code {code!r}", {field: [f"no commune has code {code!r}"]})
    return unit


def add_new(session: Session, actor: Actor, obj: M, entity_type: str) -> M:
    """Insert a fully built record and audit its creation."""
    session.add(obj)
    session.flush()
    record(session, actor, f"{entity_type}.create", entity_type, obj.id)
    return obj


def apply_changes(session: Session, actor: Actor, obj, changes: dict[str, Any], action: str, entity_type: str) -> None:
    """Set the changed attributes, flush, and audit which fields changed (values of personal data are not logged)."""
    changed = sorted(name for name, value in changes.items() if getattr(obj, name) != value)
    for name in changed:
        setattr(obj, name, changes[name])
    session.flush()
    if changed:
        record(session, actor, action, entity_type, obj.id, details={"fields": changed})
