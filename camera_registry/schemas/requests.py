"""What the police send about footage requests, through the API or the request pages' forms."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..models import ConsentChannel, Handover
from ..services import requests, route_timing
from ..services.routing import INCIDENT_KINDS
from .base import StrictSchema
from .fields import GeoJSONGeometry

#: The assignment actions the police take or record; `expire` and `withdraw` are the service's own.
POLICE_ACTIONS = ("consent", "decline", "report_no_footage", "receive_footage", "close")


class SpeedRangeSchema(StrictSchema):
    min = ma.fields.Float(
        metadata={"description": f"km/h, above 0; default {route_timing.DEFAULT_MIN_SPEED_KMH:g}"},
    )
    max = ma.fields.Float(
        metadata={
            "description": f"km/h, at most {route_timing.MAX_SPEED_KMH:g}; "
            f"default {route_timing.DEFAULT_MAX_SPEED_KMH:g}"
        },
    )


class FootageRequestCreateSchema(StrictSchema):
    case_ref = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    reason = ma.fields.String(required=True, validate=validate.Length(min=1, max=2000))
    legal_basis = ma.fields.String(required=True, validate=validate.Length(min=1, max=500))
    incident = GeoJSONGeometry(
        allowed=INCIDENT_KINDS,
        required=True,
        metadata={
            "description": "GeoJSON Point, LineString (the route taken) or Polygon (an area: one outline, no holes, "
            "at most AREA_REQUEST_MAX_KM2, 0.5 km² by default), WGS84 lon/lat"
        },
    )
    window_start = ma.fields.AwareDateTime(required=True)
    window_end = ma.fields.AwareDateTime(required=True)
    radius_m = ma.fields.Float(
        load_default=requests.DEFAULT_RADIUS_M,
        validate=validate.Range(min=0, max=requests.MAX_RADIUS_M, min_inclusive=False),
    )
    deadline = ma.fields.AwareDateTime(load_default=None, allow_none=True)
    draft = ma.fields.Boolean(load_default=False, metadata={"description": "keep as a draft; open it later"})
    route_times = ma.fields.List(
        ma.fields.AwareDateTime(allow_none=True),
        load_default=None,
        metadata={
            "description": "a timed route: one ISO time per point of the LineString incident, null where unknown; "
            "at least two, rising, within the window. Each lens is then asked only for when the target could "
            "have been in its view"
        },
    )
    speed_kmh = ma.fields.Nested(
        SpeedRangeSchema,
        load_default=None,
        metadata={"description": "a timed route: the speeds the target moved at, {min, max} in km/h"},
    )
    margin_minutes = ma.fields.Float(
        load_default=None,
        metadata={
            "description": f"a timed route: minutes added before and after each lens's window, 0 to "
            f"{route_timing.MAX_MARGIN_MINUTES:g}; default {route_timing.DEFAULT_MARGIN_MINUTES:g}"
        },
    )


class VersionSchema(StrictSchema):
    version = ma.fields.Integer(
        load_default=None,
        metadata={
            "description": "the version you saw; a stale one is refused with 409 and the current version and status"
        },
    )
    note = ma.fields.String(load_default=None, validate=validate.Length(max=2000))


class AssignmentActionSchema(VersionSchema):
    handover = ma.fields.Enum(Handover, by_value=True, load_default=None)
    consent_channel = ma.fields.Enum(
        ConsentChannel,
        by_value=True,
        load_default=None,
        validate=validate.OneOf([ConsentChannel.PHONE, ConsentChannel.ON_SITE, ConsentChannel.PAPER]),
        metadata={"description": "consent: how the owner gave it, for the consent record (phone when left out)"},
    )
    evidence_ref = ma.fields.String(load_default=None, validate=validate.Length(max=200))
    clip_id = ma.fields.Integer(
        load_default=None,
        metadata={
            "description": "receive_footage: the stored clip that was received; its SHA-256 (taken at upload) becomes "
            "the evidence's. Required when the assignment has stored clips"
        },
    )
    evidence_sha256 = ma.fields.String(
        load_default=None,
        metadata={"description": "only for a copy kept outside the service (no stored clip): its SHA-256"},
    )
