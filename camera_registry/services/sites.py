"""Programme sites, each belonging to one commune.

Changes and deletions may name the version they were read at; a stale one is
refused with 409 (services.records)."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from shapely.geometry import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import WGS84, AdminUnit, Recorder, Site
from .access import Actor
from .audit import record
from .errors import Conflict
from .listing import Page, page_of, readable
from .messages import refusal
from .records import add_new, apply_changes, flush, get_readable, get_writable, require_unique, with_commune_id


def list_sites(
    session: Session, actor: Actor, *, commune_code: str | None = None, page: int = 1, page_size: int = 50
) -> Page[Site]:
    statement = select(Site).where(readable(actor, Site.commune_id)).order_by(Site.code)
    if commune_code is not None:
        statement = statement.join(AdminUnit, Site.commune_id == AdminUnit.id).where(AdminUnit.code == commune_code)
    return page_of(session, statement, page, page_size)


def get_site(session: Session, actor: Actor, site_id: int) -> Site:
    return get_readable(session, actor, Site, site_id, "site")


def create_site(
    session: Session, actor: Actor, *, code: str, name: str, commune_code: str, point: Point | None = None
) -> Site:
    values = with_commune_id(session, actor, {"code": code, "name": name, "commune_code": commune_code}, "sites")
    require_unique(session, Site, "code", code, "site")
    return add_new(session, actor, Site(**values, point=from_shape(point, srid=WGS84) if point else None), "site")


def update_site(
    session: Session, actor: Actor, site_id: int, changes: dict, *, expected_version: int | None = None
) -> Site:
    site = get_writable(session, actor, Site, site_id, "site", expected_version)
    if "code" in changes:
        require_unique(session, Site, "code", changes["code"], "site", exclude_id=site.id)
    changes = with_commune_id(session, actor, changes, "sites")
    if "point" in changes:
        changes["point"] = from_shape(changes["point"], srid=WGS84) if changes["point"] else None
    apply_changes(session, actor, site, changes, "site.update", "site")
    return site


def delete_site(session: Session, actor: Actor, site_id: int, *, expected_version: int | None = None) -> None:
    site = get_writable(session, actor, Site, site_id, "site", expected_version)
    recorders = session.scalar(select(func.count()).where(Recorder.site_id == site.id))
    if recorders:
        raise Conflict(
            refusal("site %(code)s still groups %(count)s recorders; move them first", code=site.code, count=recorders),
            {"recorders": [refusal("%(count)s recorders belong to this site", count=recorders)]},
        )
    record(session, actor, "site.delete", "site", site.id, details={"code": site.code})
    session.delete(site)
    flush(session, "site", site.id)
