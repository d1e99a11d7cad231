"""/api/v1/map: the coverage map's data, as GeoJSON; what a click on a lens shows."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView
from marshmallow import validate

from ..models import LensStatus, OwnerKind
from ..schemas.fields import GeoJSONGeometry, NumberList
from ..services import coverage
from .base import api_blueprint, require_actor, session
from .geojson import GEOJSON, feature_collection
from .schemas import FeatureCollectionSchema, LensSchema, OwnerSchema, PlaceQuerySchema, RecorderSchema
from .stats import UnitFiguresSchema

blp = api_blueprint(
    "map", __name__, "map", "Coverage map data: lenses clustered or single, communes with figures, what lenses see"
)

MAX_ZOOM = 22


class MapViewSchema(PlaceQuerySchema):
    """The map's view: the lens lists' bbox (checked the same way), required, and the zoom."""

    bbox = NumberList(4, required=True, metadata={"description": "the view: minlon,minlat,maxlon,maxlat"})
    zoom = ma.fields.Float(
        required=True,
        validate=validate.Range(min=0, max=MAX_ZOOM),
        metadata={"description": "the map's zoom level (256-pixel tiles)"},
    )

    class Meta:
        exclude = ("commune_code", "near", "radius_m")


class MapLensQuerySchema(MapViewSchema):
    status = ma.fields.Enum(LensStatus, by_value=True, metadata={"description": "default: every lens not removed"})
    shared = ma.fields.Boolean(metadata={"description": "true: lenses an active commitment covers; false: the others"})
    owner_kind = ma.fields.Enum(OwnerKind, by_value=True)


def _point(lon: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [round(lon, 6), round(lat, 6)]}


class ClusterSchema(ma.Schema):
    kind = ma.fields.Constant("cluster")
    lenses = ma.fields.Integer()
    shared_lenses = ma.fields.Integer()
    point = ma.fields.Function(lambda cluster: _point(cluster.lon, cluster.lat))


class MapLensSchema(ma.Schema):
    kind = ma.fields.Constant("lens")
    id = ma.fields.Integer()
    bearing_deg = ma.fields.Float(allow_none=True)
    fov_deg = ma.fields.Float()
    range_m = ma.fields.Float()
    status = ma.fields.Enum(LensStatus, by_value=True)
    shared = ma.fields.Boolean()
    owner_kind = ma.fields.Enum(OwnerKind, by_value=True)
    point = ma.fields.Function(lambda lens: _point(lens.lon, lens.lat))


class MapCommuneSchema(UnitFiguresSchema):
    """A commune's boundary, simplified for the zoom, with every figure of /stats/admin-units."""

    area_km2 = ma.fields.Float()
    lens_density = ma.fields.Float(allow_none=True, metadata={"description": "active lenses per km²"})
    boundary = GeoJSONGeometry(allowed=("MultiPolygon", "Polygon"))

    class Meta:
        exclude = ("level", "parent_code")

    def get_attribute(self, obj, attr, default):
        if attr in ("area_km2", "lens_density", "boundary"):
            return getattr(obj, attr)
        return super().get_attribute(obj, attr, default)


class CoverageUnionSchema(ma.Schema):
    code = ma.fields.String(metadata={"description": "the commune's code"})
    union = ma.fields.String(
        metadata={"description": "seen: inside an active lens's field of view; shared_seen: a shared lens's"}
    )
    computed_at = ma.fields.DateTime()
    stale = ma.fields.Boolean(metadata={"description": "a change waits for the refresh: drawn from before it"})
    drawing = ma.fields.Raw(metadata={"description": "GeoJSON (Multi)Polygon, clipped to the commune"})


class LensSummarySchema(ma.Schema):
    lens = ma.fields.Nested(LensSchema)
    recorder = ma.fields.Nested(RecorderSchema)
    site_name = ma.fields.Function(lambda summary: summary.site.name if summary.site else None)
    owner = ma.fields.Nested(OwnerSchema, metadata={"description": "contact fields only for roles allowed to see them"})


geojson = {"content_type": GEOJSON, "schema": FeatureCollectionSchema, "description": "GeoJSON FeatureCollection"}


@blp.route("/lenses")
class MapLenses(MethodView):
    @blp.arguments(MapLensQuerySchema, location="query")
    @blp.response(200, **geojson)
    def get(self, query):
        """Lenses in your reach inside bbox: grid clusters (kind=cluster) below zoom 16 or beyond 2,000 lenses,
        else single lenses (kind=lens) with bearing, field of view and range for their wedges."""
        found = coverage.map_lenses(
            session(), require_actor(), tuple(query.pop("bbox")), query.pop("zoom"), coverage.LensFilter(**query)
        )
        if found.cell_deg is None:
            return feature_collection(found.lenses, MapLensSchema())
        return feature_collection(found.clusters, ClusterSchema())


@blp.route("/lenses/<int:lens_id>")
class MapLensSummary(MethodView):
    @blp.response(200, LensSummarySchema)
    def get(self, lens_id):
        """A lens, its recorder and site, and its owner (contacts for admin and the commune's police; audited)."""
        return coverage.lens_summary(session(), require_actor(), lens_id)


@blp.route("/communes")
class MapCommunes(MethodView):
    @blp.arguments(MapViewSchema, location="query")
    @blp.response(200, **geojson)
    def get(self, query):
        """Current communes in your reach meeting bbox, boundaries simplified for the zoom, with their figures
        (requests: those opened in the last 30 days)."""
        communes = coverage.map_communes(session(), require_actor(), tuple(query["bbox"]), query["zoom"])
        return feature_collection(communes, MapCommuneSchema(), geometry_field="boundary")


@blp.route("/coverage")
class MapCoverage(MethodView):
    @blp.arguments(MapViewSchema, location="query")
    @blp.response(200, **geojson)
    def get(self, query):
        """What the lenses see of each current commune in your reach meeting bbox, simplified for the zoom: two
        features a commune, union seen then shared_seen; simplified coarser when the zoom's drawings pass 1.5 MB.
        Refused (422) below zoom 11 (zoom), over more than 150 communes or when even zoom 11's pass 1.5 MB (bbox)."""
        unions = coverage.map_coverage(session(), require_actor(), tuple(query["bbox"]), query["zoom"])
        return feature_collection(unions, CoverageUnionSchema(), geometry_field="drawing")
