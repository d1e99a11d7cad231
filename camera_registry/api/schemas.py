"""Request and response schemas: validation, serialisation and OpenAPI in one place."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from ..models import (
    AdminLevel,
    Channel,
    CommitmentChannel,
    LensKind,
    LensStatus,
    MessageStatus,
    OwnerKind,
    RecorderStatus,
    Role,
)
from ..schemas.base import StrictSchema
from ..schemas.fields import GeoJSONGeometry, NumberList, id_field
from ..services.accounts import TOKEN_MAX_DAYS
from ..services.channels.phones import PhoneError, normalise_phone
from ..services.messages import refusal
from ..services.rules import RETENTION_DAYS, VIETNAM_EXTENT
from ..services.wording import MESSAGE_LANGUAGES

MAX_RADIUS_M = 5_000


def _enum(enum_class, **kwargs):
    return ma.fields.Enum(enum_class, by_value=True, **kwargs)


def _commune_code(obj) -> str | None:
    return obj.commune.code if obj.commune_id is not None else None


def _partial(schema: type[ma.Schema], *, drop: tuple[str, ...] = (), versioned: bool = False) -> type[ma.Schema]:
    """The same fields, all optional: what a PATCH may carry; `versioned`: also the version it was read at."""
    fields = {name: field for name, field in schema().fields.items() if name not in drop}
    for field in fields.values():
        field.required = False
        field.load_default = ma.missing
    if versioned:
        fields["version"] = ma.fields.Integer(
            validate=validate.Range(min=1),
            metadata={
                "description": "the version you read (or send its ETag in If-Match): refused with 409 if the record "
                "has moved on; omit both for an unconditional write"
            },
        )
    return type(f"{schema.__name__.replace('Create', 'Update')}", (StrictSchema,), fields)


def _version_out() -> ma.fields.Integer:
    return ma.fields.Integer(
        dump_only=True,
        metadata={"description": "bumped by every change (the ETag carries it too): name it when you write"},
    )


# --------------------------------------------------------------------------- admin units


class AdminUnitSchema(ma.Schema):
    code = ma.fields.String()
    name = ma.fields.String()
    level = _enum(AdminLevel)
    parent_code = ma.fields.Function(lambda unit: unit.parent.code if unit.parent_id else None)
    valid_from = ma.fields.Date(allow_none=True)
    valid_to = ma.fields.Date(allow_none=True)


class AdminUnitDetailSchema(AdminUnitSchema):
    boundary = GeoJSONGeometry(allowed=("MultiPolygon",), allow_none=True)


class AdminUnitCreateSchema(StrictSchema):
    code = ma.fields.String(required=True, validate=validate.Regexp(r"^[A-Za-z0-9_-]{1,32}$"))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    level = _enum(AdminLevel, required=True)
    parent_code = ma.fields.String(allow_none=True, load_default=None)
    boundary = GeoJSONGeometry(allowed=("Polygon", "MultiPolygon"), allow_none=True, load_default=None)
    valid_from = ma.fields.Date(allow_none=True, load_default=None)
    valid_to = ma.fields.Date(allow_none=True, load_default=None)


AdminUnitUpdateSchema = _partial(AdminUnitCreateSchema, drop=("code", "level"))


class AdminUnitQuerySchema(StrictSchema):
    level = _enum(AdminLevel)
    parent = ma.fields.String(metadata={"description": "code of the parent unit"})
    on = ma.fields.Date(metadata={"description": "only units valid on this day (default: today)"})
    history = ma.fields.Boolean(load_default=False, metadata={"description": "include units closed by reforms"})


# --------------------------------------------------------------------------- sites


class SiteSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    commune_code = ma.fields.Function(_commune_code)
    point = GeoJSONGeometry(allowed=("Point",), allow_none=True)
    version = _version_out()


class SiteCreateSchema(StrictSchema):
    code = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    commune_code = ma.fields.String(required=True)
    point = GeoJSONGeometry(allowed=("Point",), allow_none=True, load_default=None)


SiteUpdateSchema = _partial(SiteCreateSchema, versioned=True)


class CommuneFilterSchema(StrictSchema):
    commune_code = ma.fields.String()


# --------------------------------------------------------------------------- owners


class OwnerSchema(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String()
    kind = _enum(OwnerKind)
    name = ma.fields.String()
    commune_code = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    address = ma.fields.String(allow_none=True)
    contacts_shown = ma.fields.Boolean(metadata={"description": "false: your role may not see contact data"})
    language = ma.fields.String(
        allow_none=True, metadata={"description": "the language of the owner's messages; null: Vietnamese"}
    )
    version = _version_out()


def _phone(value: str) -> None:
    """The service's own rule (channels.phones), so the API refuses with its words what the service would."""
    if value.strip():
        try:
            normalise_phone(value)
        except PhoneError as error:
            raise ma.ValidationError(error.args[0]) from None


class OwnerCreateSchema(StrictSchema):
    external_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    kind = _enum(OwnerKind, required=True)
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=200))
    commune_code = ma.fields.String(required=True)
    phone = ma.fields.String(allow_none=True, load_default=None, validate=_phone)
    email = ma.fields.Email(allow_none=True, load_default=None)
    address = ma.fields.String(allow_none=True, load_default=None, validate=validate.Length(max=500))
    language = ma.fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(MESSAGE_LANGUAGES),
        metadata={"description": "the language of the owner's messages and link page (vi, en); null: Vietnamese"},
    )


OwnerUpdateSchema = _partial(OwnerCreateSchema, versioned=True)


class OwnerQuerySchema(CommuneFilterSchema):
    kind = _enum(OwnerKind)


# --------------------------------------------------------------------------- recorders and lenses


class PlaceQuerySchema(CommuneFilterSchema):
    bbox = NumberList(4, metadata={"description": "minlon,minlat,maxlon,maxlat"})
    near = NumberList(2, metadata={"description": "lon,lat; needs radius_m"})
    radius_m = ma.fields.Float(validate=validate.Range(min=0, max=MAX_RADIUS_M, min_inclusive=False))

    @ma.validates_schema
    def _consistent(self, data, **kwargs):
        if ("near" in data) != ("radius_m" in data):
            raise ma.ValidationError(
                refusal("near and radius_m go together"), "near" if "near" not in data else "radius_m"
            )
        if "bbox" in data:
            min_lon, min_lat, max_lon, max_lat = data["bbox"]
            if min_lon >= max_lon or min_lat >= max_lat:
                raise ma.ValidationError(refusal("bbox must be minlon,minlat,maxlon,maxlat with min below max"), "bbox")
        if "near" in data:
            lon, lat = data["near"]
            west, south, east, north = VIETNAM_EXTENT
            if not (west <= lon <= east and south <= lat <= north):
                raise ma.ValidationError(refusal("near must be lon,lat inside Vietnam's extent"), "near")


class RecorderSchema(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String()
    owner_id = ma.fields.Integer()
    site_id = ma.fields.Integer(allow_none=True)
    commune_code = ma.fields.Function(_commune_code)
    point = GeoJSONGeometry(allowed=("Point",))
    retention_days = ma.fields.Integer()
    make = ma.fields.String(allow_none=True)
    model = ma.fields.String(allow_none=True)
    status = _enum(RecorderStatus)
    shared = ma.fields.Boolean(metadata={"description": "an active sharing commitment covers this recorder"})
    version = _version_out()


class RecorderCreateSchema(StrictSchema):
    external_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    owner_id = id_field(required=True)
    site_id = id_field(allow_none=True, load_default=None)
    point = GeoJSONGeometry(allowed=("Point",), required=True)
    retention_days = ma.fields.Integer(required=True, validate=validate.Range(*RETENTION_DAYS))
    make = ma.fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    model = ma.fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100))
    status = _enum(RecorderStatus, load_default=RecorderStatus.ACTIVE)


RecorderUpdateSchema = _partial(RecorderCreateSchema, versioned=True)


class RecorderQuerySchema(PlaceQuerySchema):
    status = _enum(RecorderStatus)
    owner_id = id_field()


class LensSchema(ma.Schema):
    id = ma.fields.Integer()
    external_id = ma.fields.String()
    recorder_id = ma.fields.Integer()
    commune_code = ma.fields.Function(_commune_code)
    point = GeoJSONGeometry(allowed=("Point",))
    bearing_deg = ma.fields.Float(allow_none=True)
    fov_deg = ma.fields.Float()
    range_m = ma.fields.Float()
    height_m = ma.fields.Float(allow_none=True)
    kind = _enum(LensKind)
    status = _enum(LensStatus)
    shared = ma.fields.Boolean(metadata={"description": "an active sharing commitment covers its recorder"})
    version = _version_out()


class LensCreateSchema(StrictSchema):
    external_id = ma.fields.String(required=True, validate=validate.Length(min=1, max=64))
    recorder_id = id_field(required=True)
    point = GeoJSONGeometry(allowed=("Point",), required=True)
    bearing_deg = ma.fields.Float(
        allow_none=True,
        load_default=None,
        validate=validate.Range(min=0, max=360, max_inclusive=False),
        metadata={"description": "degrees clockwise from north; null: unknown or all round"},
    )
    fov_deg = ma.fields.Float(load_default=90.0, validate=validate.Range(min=0, max=360, min_inclusive=False))
    range_m = ma.fields.Float(load_default=30.0, validate=validate.Range(min=0, max=500, min_inclusive=False))
    height_m = ma.fields.Float(allow_none=True, load_default=None, validate=validate.Range(min=0, max=100))
    kind = _enum(LensKind, load_default=LensKind.FIXED)
    status = _enum(LensStatus, load_default=LensStatus.ACTIVE)


LensUpdateSchema = _partial(LensCreateSchema, versioned=True)


class LensQuerySchema(PlaceQuerySchema):
    status = _enum(LensStatus)
    kind = _enum(LensKind)
    recorder_id = id_field()


# --------------------------------------------------------------------------- commitments


class CommitmentSchema(ma.Schema):
    id = ma.fields.Integer()
    owner_id = ma.fields.Integer()
    all_recorders = ma.fields.Boolean()
    recorder_ids = ma.fields.Function(lambda c: [r.id for r in c.recorders])
    signed_at = ma.fields.AwareDateTime()
    valid_until = ma.fields.AwareDateTime(allow_none=True)
    channel = _enum(CommitmentChannel)
    text_version = ma.fields.String()
    revoked_at = ma.fields.AwareDateTime(allow_none=True)


class CommitmentSignSchema(StrictSchema):
    owner_id = id_field(required=True)
    recorder_ids = ma.fields.List(
        id_field(), load_default=None, metadata={"description": "omit to cover all the owner's recorders"}
    )
    signed_at = ma.fields.AwareDateTime(load_default=None)
    valid_until = ma.fields.AwareDateTime(required=True, allow_none=True)
    channel = _enum(CommitmentChannel, required=True)
    text_version = ma.fields.String(required=True, validate=validate.Length(min=1, max=32))


class CommitmentRenewSchema(StrictSchema):
    valid_until = ma.fields.AwareDateTime(required=True, allow_none=True)
    channel = _enum(CommitmentChannel, required=True)
    text_version = ma.fields.String(load_default=None, validate=validate.Length(min=1, max=32))


class CommitmentRevokeSchema(StrictSchema):
    reason = ma.fields.String(load_default=None, validate=validate.Length(max=1000))


class CommitmentQuerySchema(CommuneFilterSchema):
    owner_id = id_field()
    active = ma.fields.Boolean()


# --------------------------------------------------------------------------- users and tokens


class UserSchema(ma.Schema):
    id = ma.fields.Integer()
    username = ma.fields.String()
    full_name = ma.fields.String()
    role = ma.fields.Function(lambda user: user.role.value)
    admin_unit_code = ma.fields.Function(lambda user: user.admin_unit.code if user.admin_unit_id else None)
    group_code = ma.fields.Function(lambda user: user.supervision_group.code if user.supervision_group_id else None)
    active = ma.fields.Boolean()
    created_at = ma.fields.AwareDateTime()


class UserCreateSchema(StrictSchema):
    username = ma.fields.String(required=True)
    password = ma.fields.String(required=True, load_only=True)
    role = ma.fields.String(required=True, validate=validate.OneOf([role.value for role in Role]))
    admin_unit_code = ma.fields.String(load_default=None, allow_none=True)
    full_name = ma.fields.String(load_default="")
    group_code = ma.fields.String(
        load_default=None, allow_none=True, metadata={"description": "an open supervision group, for district_staff"}
    )


class TokenSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    created_at = ma.fields.AwareDateTime()
    expires_at = ma.fields.AwareDateTime(allow_none=True)
    last_used_at = ma.fields.AwareDateTime(allow_none=True)
    revoked_at = ma.fields.AwareDateTime(allow_none=True)


class NewTokenSchema(TokenSchema):
    secret = ma.fields.String(metadata={"description": "shown once; only its hash is stored"})


class TokenCreateSchema(StrictSchema):
    name = ma.fields.String(required=True)
    expires_in_days = ma.fields.Integer(
        load_default=None, allow_none=True, validate=validate.Range(min=1, max=TOKEN_MAX_DAYS)
    )


# ------------------------------------------------------------------ documentation of what views write themselves


class _Open(ma.Schema):
    """Documentation only: members beyond those listed may appear (links, timeStamp...)."""

    class Meta:
        unknown = ma.INCLUDE


class FeatureSchema(_Open):
    """A GeoJSON Feature (RFC 7946) in WGS84 lon/lat; `properties` are the record's fields."""

    type = ma.fields.String(validate=validate.OneOf(["Feature"]))
    id = ma.fields.Raw(allow_none=True, metadata={"description": "the record's id (none for a cluster)"})
    geometry = ma.fields.Dict(allow_none=True, metadata={"description": "GeoJSON geometry"})
    properties = ma.fields.Dict()


class FeatureCollectionSchema(_Open):
    """A GeoJSON FeatureCollection; lists say how many features matched and how many this page returned."""

    type = ma.fields.String(validate=validate.OneOf(["FeatureCollection"]))
    features = ma.fields.List(ma.fields.Nested(FeatureSchema))
    numberMatched = ma.fields.Integer()
    numberReturned = ma.fields.Integer()


class OgcDocumentSchema(_Open):
    """An OGC API - Features resource (landing page, conformance, collections), with its links."""

    links = ma.fields.List(ma.fields.Dict())


#: A body that is not JSON: CSV text, an XLSX workbook, a vector tile.
TEXT_BODY = {"type": "string"}
BINARY_BODY = {"type": "string", "format": "binary"}


class DeliverySchema(ma.Schema):
    """How one of an owner's messages went; never its recipient or body, which may carry the owner's link."""

    id = ma.fields.Integer()
    kind = ma.fields.String(metadata={"description": "assignment.request, assignment.reminder"})
    channel = _enum(Channel, metadata={"description": "zns (Zalo), sms, email, webhook (the gateway)"})
    status = _enum(
        MessageStatus,
        metadata={"description": "pending (queued), sent, delivered (the provider's receipt), failed, dead (gave up)"},
    )
    created_at = ma.fields.AwareDateTime(metadata={"description": "when it was queued"})
    sent_at = ma.fields.AwareDateTime(allow_none=True)
    delivered_at = ma.fields.AwareDateTime(allow_none=True)
    failed_at = ma.fields.AwareDateTime(allow_none=True)
    falls_back_from_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "the message on the previous channel this one replaced"}
    )
