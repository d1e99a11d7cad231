"""Small steps every registry write shares: lookups, uniqueness, versions, change sets, audit.

Optimistic locking: sites, owners, recorders and lenses carry a `version`
that every write bumps (the mapper's version_id_col; the register import
bumps it in its bulk updates). A write may name the version it was read at
(`expected_version`); `get_writable` locks the row and refuses a stale one
with StaleVersion (409), its `current` saying the version stored now. A write
that names no version is unconditional and still bumps the version.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import case, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import AdminLevel, AdminUnit
from ..timezones import local_today
from .access import Actor
from .audit import record
from .errors import Conflict, NotFound, ValidationFailed
from .messages import Message, domain_term, record_name, refusal
from .workflow import StaleVersion, flush_versioned

M = TypeVar("M")


def get_readable(session: Session, actor: Actor, model: type[M], record_id: int, what: str) -> M:
    """The record, or NotFound when it is missing or out of the actor's reach (no hint which)."""
    obj = session.get(model, record_id)
    if obj is None or not actor.can_read(obj.commune_id):
        raise NotFound.of(what, record_id)
    return obj


def get_writable(
    session: Session, actor: Actor, model: type[M], record_id: int, what: str, expected_version: int | None = None
) -> M:
    """The record, locked for the rest of the transaction and loaded as stored, if the actor may write it and
    (when `expected_version` is given) it is still at that version.

    The lock (FOR UPDATE on PostgreSQL; SQLite's write unit already holds the
    database) makes the check and the write one step: a second writer waits,
    then sees the first one's version and is refused.
    """
    obj = session.get(model, record_id, with_for_update=True, populate_existing=True)
    if obj is None or not actor.can_read(obj.commune_id):
        raise NotFound.of(what, record_id)
    actor.require_write(obj.commune_id, record_name(what, record_id))
    check_version(obj, expected_version, what)
    return obj


def check_version(obj, expected_version: int | None, what: str) -> None:
    if expected_version is not None and expected_version != obj.version:
        raise StaleVersion(
            refusal(
                "%(record)s was changed by someone else: it is at version %(version)s, you sent %(sent)s; "
                "reload it and try again",
                record=record_name(what, obj.id),
                version=obj.version,
                sent=expected_version,
            ),
            {"version": [refusal("stale: current version is %(version)s", version=obj.version)]},
            current={"version": obj.version},
        )


def flush(session: Session, what: str, record_id: int | None = None) -> None:
    """Flush the pending writes; what a concurrent writer made of them is a Conflict (409), never a crash."""
    try:
        flush_versioned(session, what, record_id)
    except IntegrityError as error:
        conflict = duplicate_key_conflict(error)
        if conflict is None:
            raise
        raise conflict from None


#: Where each backend names the duplicated key: PostgreSQL's DETAIL line, SQLite's message.
_POSTGRES_DUPLICATE = re.compile(r"Key \((?P<fields>[^)]+)\)=\((?P<values>.*)\) already exists")
_SQLITE_DUPLICATE = re.compile(r"UNIQUE constraint failed: (?P<fields>[\w.]+(?:, [\w.]+)*)")
UNIQUE_VIOLATION = "23505"


def duplicate_key_conflict(error: IntegrityError) -> Conflict | None:
    """The Conflict a unique-key violation stands for (a concurrent insert took the key after our check), or
    None for any other integrity error (a broken reference or check is a bug, not a conflict)."""
    text = str(error.orig)
    sqlstate = getattr(error.orig, "sqlstate", None)
    match = _POSTGRES_DUPLICATE.search(text) if sqlstate == UNIQUE_VIOLATION else _SQLITE_DUPLICATE.search(text)
    if match is None:
        return (
            None
            if sqlstate != UNIQUE_VIOLATION
            else Conflict(refusal("a concurrent write stored the same unique value; reload and try again"))
        )
    fields = [name.strip().split(".")[-1] for name in match["fields"].split(",")]
    return Conflict(
        refusal("%(fields)s is already used (stored at the same moment by another write)", fields=", ".join(fields)),
        {field: [refusal("already used")] for field in fields},
    )


def require_unique(session: Session, model, field: str, value: Any, what: str, exclude_id: int | None = None) -> None:
    column = getattr(model, field)
    existing = session.scalar(select(model.id).where(column == value))
    if existing is not None and existing != exclude_id:
        used_by = record_name(what, existing)
        raise Conflict(
            refusal(
                "%(field)s %(value)s is already used by %(record)s", field=field, value=repr(value), record=used_by
            ),
            {field: [refusal("already used by %(record)s", record=used_by)]},
        )


def commune_refusal(unit: AdminUnit | None, code: str, on: date) -> Message | None:
    """Why the unit found for `code` cannot be a record's commune on `on`, or None when it can.

    The register import and the API's writes refuse the same codes with the same words.
    """
    if unit is None:
        return refusal("no commune has code %(code)s", code=repr(code))
    if unit.level != AdminLevel.COMMUNE:
        return refusal(
            "%(code)s is %(name)s, a %(level)s, not a commune",
            code=code,
            name=unit.name,
            level=domain_term(unit.level.value),
        )
    if not unit.valid_on(on):
        return refusal(
            "%(name)s (%(code)s) is not a current commune; use the commune that replaced it", name=unit.name, code=code
        )
    return None


def unit_on(session: Session, code: str, on: date | None = None) -> AdminUnit | None:
    """The version of unit `code` in force on `on` (today in Vietnam by default), else its latest version so a
    refusal can name it: an edition closes a version and opens the next under the same code."""
    in_force = case((AdminUnit.valid_on(on or local_today()), 0), else_=1)
    return session.scalar(
        select(AdminUnit)
        .where(AdminUnit.code == code)
        .order_by(in_force, AdminUnit.valid_from.desc().nulls_last(), AdminUnit.id.desc())
        .limit(1)
    )


def current_commune(session: Session, code: str, field: str = "commune_code") -> AdminUnit:
    """The commune with `code`, in force today (Vietnam's day); closed and non-commune units are refused."""
    unit = unit_on(session, code)
    reason = commune_refusal(unit, code, local_today())
    if reason:
        raise ValidationFailed(
            refusal("commune %(code)s refused: %(reason)s", code=repr(code), reason=reason), {field: [reason]}
        )
    return unit


def with_commune_id(session: Session, actor: Actor, values: dict[str, Any], what: str) -> dict[str, Any]:
    """A copy of a new or changed record's `values` that names its commune (`commune_code`, when given) by id,
    once the commune is current and the actor may write its `what` there."""
    values = dict(values)
    if "commune_code" in values:
        commune = current_commune(session, values.pop("commune_code"))
        actor.require_write(commune.id, f"{what} of {commune.name}")
        values["commune_id"] = commune.id
    return values


def add_new(session: Session, actor: Actor, obj: M, entity_type: str) -> M:
    """Insert a fully built record and audit its creation."""
    session.add(obj)
    flush(session, entity_type)
    record(session, actor, f"{entity_type}.create", entity_type, obj.id)
    return obj


def apply_changes(session: Session, actor: Actor, obj, changes: dict[str, Any], action: str, entity_type: str) -> None:
    """Set the changed attributes, flush, and audit which fields changed (values of personal data are not logged)."""
    changed = sorted(name for name, value in changes.items() if getattr(obj, name) != value)
    for name in changed:
        setattr(obj, name, changes[name])
    flush(session, entity_type, obj.id)
    if changed:
        record(session, actor, action, entity_type, obj.id, details={"fields": changed})
