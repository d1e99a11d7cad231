"""OGC API - Features, Part 1 (Core and GeoJSON), free of any web framework.

The HTTP glue (api/ogc.py) validates the query and hands the documents back
as JSON, like pygeoapi's core and its Flask app. Each collection is one
`Collection`: what rows an actor may read, and how a row becomes a GeoJSON
feature. No owner personal data (name, phone, e-mail, address) is in any
collection, whatever the role: GIS files travel further than the registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.orm import Session, aliased

from ..geo.spatial import Envelope, within_envelope
from ..models import AdminLevel, AdminUnit, Lens, Owner, Recorder, Site
from ..models.base import utcnow
from ..timezones import local_today
from .access import Actor
from .commitments import recorder_is_shared
from .errors import NotFound
from .listing import readable
from .messages import refusal
from .rules import VIETNAM_EXTENT
from .stats import Tally, commune_tallies, period_of_days

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
DEFAULT_LIMIT, MAX_LIMIT = 100, 1000


@dataclass(frozen=True)
class ItemsQuery:
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    bbox: Envelope | None = None


@dataclass(frozen=True)
class Collection:
    id: str
    title: str
    description: str
    key: ColumnElement  # the feature id; lens 7 is /items/7, commune 00226 is /items/00226
    geometry: ColumnElement
    rows: Callable[[Actor], Select]  # what the actor may read, in a stable order
    features: Callable[[Session, list], list[dict]]


def _feature(key, geometry, properties: dict) -> dict:
    return {
        "type": "Feature",
        "id": key,
        "geometry": mapping(to_shape(geometry)) if geometry is not None else None,
        "properties": properties,
    }


def _rows_in_reach(actor: Actor, model, *columns) -> Select:
    """The model's rows the actor may read, by id, each with its commune's code (no lazy load per row)."""
    commune = aliased(AdminUnit)
    return (
        select(model, commune.code.label("commune_code"), *columns)
        .outerjoin(commune, model.commune_id == commune.id)
        .where(readable(actor, model.commune_id))
        .order_by(model.id)
    )


def _lens_rows(actor: Actor) -> Select:
    """`shared` comes in the same query (a correlated EXISTS), not in a second one per page."""
    return _rows_in_reach(actor, Lens, recorder_is_shared(utcnow()).label("shared")).join(
        Recorder, Lens.recorder_id == Recorder.id
    )


def _lens_features(session: Session, rows: list) -> list[dict]:
    return [
        _feature(
            lens.id,
            lens.point,
            {
                "id": lens.id,
                "external_id": lens.external_id,
                "recorder_id": lens.recorder_id,
                "commune_code": code,
                "status": lens.status.value,
                "kind": lens.kind.value,
                "bearing_deg": lens.bearing_deg,
                "fov_deg": lens.fov_deg,
                "range_m": lens.range_m,
                "height_m": lens.height_m,
                "shared": shared,
            },
        )
        for lens, code, shared in rows
    ]


def _recorder_rows(actor: Actor) -> Select:
    return _rows_in_reach(actor, Recorder, Owner.kind, recorder_is_shared(utcnow()).label("shared")).join(
        Owner, Recorder.owner_id == Owner.id
    )


def _recorder_features(session: Session, rows: list) -> list[dict]:
    return [
        _feature(
            recorder.id,
            recorder.point,
            {
                "id": recorder.id,
                "external_id": recorder.external_id,
                "owner_id": recorder.owner_id,
                "owner_kind": owner_kind.value,
                "site_id": recorder.site_id,
                "commune_code": code,
                "retention_days": recorder.retention_days,
                "make": recorder.make,
                "model": recorder.model,
                "status": recorder.status.value,
                "shared": shared,
            },
        )
        for recorder, code, owner_kind, shared in rows
    ]


def _site_rows(actor: Actor) -> Select:
    return _rows_in_reach(actor, Site)


def _site_features(session: Session, rows: list) -> list[dict]:
    return [
        _feature(site.id, site.point, {"id": site.id, "code": site.code, "name": site.name, "commune_code": code})
        for site, code in rows
    ]


def _commune_rows(actor: Actor) -> Select:
    """Communes valid today in the actor's reach (the figures belong to the reach)."""
    parent = aliased(AdminUnit)
    return (
        select(AdminUnit, parent.code.label("parent_code"))
        .outerjoin(parent, AdminUnit.parent_id == parent.id)
        .where(
            AdminUnit.level == AdminLevel.COMMUNE,
            readable(actor, AdminUnit.id),
            AdminUnit.valid_on(local_today()),
        )
        .order_by(AdminUnit.code)
    )


def _commune_features(session: Session, rows: list) -> list[dict]:
    """Boundaries with the registry's figures now (services.stats), the same numbers as /api/v1/stats."""
    tallies = commune_tallies(session, [unit.id for unit, _ in rows], period_of_days(), coverage=False)
    return [
        _feature(
            unit.code,
            unit.boundary,
            {
                "code": unit.code,
                "name": unit.name,
                "level": unit.level.value,
                "parent_code": parent_code,
                "valid_from": unit.valid_from.isoformat() if unit.valid_from else None,
                **_registry_figures(tallies[unit.id]),
            },
        )
        for unit, parent_code in rows
    ]


def _registry_figures(tally: Tally) -> dict:
    return {
        "lenses_active": tally.lenses_active,
        "lenses_offline": tally.lenses_offline,
        "shared_active_lenses": tally.shared_active_lenses,
        "sharing_rate": tally.sharing_rate,
        "recorders": tally.recorders,
        "owners": tally.owners,
        "sites": tally.sites,
    }


COLLECTIONS = {
    c.id: c
    for c in (
        Collection(
            "lenses",
            "Mắt camera (lenses)",
            "Camera lenses with position, bearing, field of view, range, status and whether an active sharing "
            "commitment covers them now.",
            Lens.id,
            Lens.point,
            _lens_rows,
            _lens_features,
        ),
        Collection(
            "recorders",
            "Đầu thu (recorders)",
            "DVR/NVR recorders that keep the footage: retention, make, model, status, the owner's kind "
            "(never the owner's name or contacts) and whether a commitment covers them now.",
            Recorder.id,
            Recorder.point,
            _recorder_rows,
            _recorder_features,
        ),
        Collection(
            "sites",
            "Điểm mô hình Camera an ninh (sites)",
            "Programme sites and their communes.",
            Site.id,
            Site.point,
            _site_rows,
            _site_features,
        ),
        Collection(
            "admin-units",
            "Xã, phường (communes)",
            "Current communes with their boundaries and figures: active and offline lenses, shared active "
            "lenses and the sharing rate (shared active / active), recorders, owners and sites.",
            AdminUnit.code,
            AdminUnit.boundary,
            _commune_rows,
            _commune_features,
        ),
    )
}


def _link(href: str, rel: str, media_type: str, title: str) -> dict:
    return {"href": href, "rel": rel, "type": media_type, "title": title}


def landing_page(base_url: str, openapi_url: str, docs_url: str) -> dict:
    return {
        "title": "Camera registry — OGC API - Features",
        "description": "Sổ đăng ký camera an ninh: lenses, recorders, sites and communes in your reach.",
        "links": [
            _link(base_url, "self", JSON, "this document"),
            _link(openapi_url, "service-desc", OPENAPI_JSON, "the API definition"),
            _link(docs_url, "service-doc", "text/html", "the API documentation"),
            _link(f"{base_url}/conformance", "conformance", JSON, "the conformance classes implemented"),
            _link(f"{base_url}/collections", "data", JSON, "the collections"),
        ],
    }


def conformance() -> dict:
    return {"conformsTo": CONFORMANCE}


def _collection_document(base_url: str, collection: Collection) -> dict:
    href = f"{base_url}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": [CRS84],
        "extent": {"spatial": {"bbox": [list(VIETNAM_EXTENT)], "crs": CRS84}},
        "links": [
            _link(href, "self", JSON, collection.title),
            _link(f"{href}/items", "items", GEOJSON, f"{collection.title}: features"),
        ],
    }


def _collection(collection_id: str) -> Collection:
    try:
        return COLLECTIONS[collection_id]
    except KeyError:
        raise NotFound(
            refusal(
                "no collection %(collection)s; there are %(collections)s",
                collection=repr(collection_id),
                collections=", ".join(COLLECTIONS),
            )
        ) from None


def collections(base_url: str) -> dict:
    return {
        "links": [_link(f"{base_url}/collections", "self", JSON, "the collections")],
        "collections": [_collection_document(base_url, c) for c in COLLECTIONS.values()],
    }


def collection(base_url: str, collection_id: str) -> dict:
    return _collection_document(base_url, _collection(collection_id))


def _items_link(href: str, query: ItemsQuery, offset: int, rel: str, title: str) -> dict:
    parameters = {"limit": query.limit, "offset": offset}
    if query.bbox is not None:
        parameters["bbox"] = ",".join(f"{value:g}" for value in query.bbox)
    return _link(f"{href}?{urlencode(parameters)}", rel, GEOJSON, title)


def items(
    session: Session, actor: Actor, base_url: str, collection_id: str, query: ItemsQuery, now: datetime | None = None
) -> dict:
    """One page of a collection's features in the actor's reach, with next/prev links."""
    found = _collection(collection_id)
    statement = found.rows(actor)
    if query.bbox is not None:
        statement = statement.where(within_envelope(session.get_bind(), found.geometry, query.bbox))
    matched = session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    features = found.features(session, session.execute(statement.limit(query.limit).offset(query.offset)).all())
    href = f"{base_url}/collections/{found.id}/items"
    links = [
        _items_link(href, query, query.offset, "self", "this page"),
        _link(f"{base_url}/collections/{found.id}", "collection", JSON, found.title),
    ]
    if query.offset + len(features) < matched:
        links.append(_items_link(href, query, query.offset + query.limit, "next", "the next page"))
    if query.offset > 0:
        links.append(_items_link(href, query, max(0, query.offset - query.limit), "prev", "the previous page"))
    return {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": matched,
        "numberReturned": len(features),
        "timeStamp": (now or utcnow()).isoformat(timespec="seconds"),
        "links": links,
    }


def item(session: Session, actor: Actor, base_url: str, collection_id: str, feature_id: str) -> dict:
    """One feature; missing and out-of-reach are the same 404, as in the API."""
    found = _collection(collection_id)
    key = found.key.type.python_type
    try:
        wanted = key(feature_id)
    except ValueError:
        wanted = None
    rows = session.execute(found.rows(actor).where(found.key == wanted)).all() if wanted is not None else []
    if not rows:
        raise NotFound(
            refusal(
                "no feature %(feature)s in collection %(collection)s",
                feature=repr(feature_id),
                collection=repr(found.id),
            )
        )
    href = f"{base_url}/collections/{found.id}"
    feature = found.features(session, rows)[0]
    feature["links"] = [
        _link(f"{href}/items/{feature_id}", "self", GEOJSON, "this feature"),
        _link(href, "collection", JSON, found.title),
    ]
    return feature
