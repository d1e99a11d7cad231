"""/api/v1/supervision-groups: the named sets of communes staff oversee; read by staff, changed by admin."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from ..schemas.base import StrictSchema
from ..services import supervision
from .base import api_blueprint, committed, require_actor, session

blp = api_blueprint(
    "supervision_groups",
    __name__,
    "supervision-groups",
    "Supervision groups of communes (read by staff, changed by admin)",
)


class GroupSchema(ma.Schema):
    id = ma.fields.Integer(metadata={"description": "this version's id; a new version has a new id, same code"})
    code = ma.fields.String()
    name = ma.fields.String()
    province_code = ma.fields.Function(lambda group: group.province.code)
    valid_from = ma.fields.Date(allow_none=True)
    valid_to = ma.fields.Date(allow_none=True)
    commune_codes = ma.fields.Function(lambda group: [commune.code for commune in group.communes])


class GroupQuerySchema(StrictSchema):
    on = ma.fields.Date(metadata={"description": "the versions in force on this day (default: today)"})
    province = ma.fields.String(metadata={"description": "code of the province: only its groups"})


class GroupDaySchema(StrictSchema):
    on = ma.fields.Date(metadata={"description": "the version in force on this day (default: today)"})


_COMMUNES = ma.fields.List(
    ma.fields.String(),
    required=True,
    metadata={"description": "codes of communes in force (on the first day) in the group's province"},
)


class GroupCreateSchema(StrictSchema):
    code = ma.fields.String(required=True)
    name = ma.fields.String(required=True)
    province_code = ma.fields.String(required=True)
    commune_codes = _COMMUNES
    valid_from = ma.fields.Date(load_default=None, metadata={"description": "first day in force (default: today)"})


class GroupCommunesSchema(StrictSchema):
    commune_codes = _COMMUNES
    effective = ma.fields.Date(
        load_default=None, metadata={"description": "the day the new version starts and the current one closes"}
    )


class GroupCloseSchema(StrictSchema):
    effective = ma.fields.Date(load_default=None, metadata={"description": "first day no longer in force"})


@blp.route("")
class Groups(MethodView):
    @blp.arguments(GroupQuerySchema, location="query")
    @blp.response(200, GroupSchema(many=True))
    def get(self, query):
        """The groups in force today (or on `on`)."""
        return supervision.list_groups(session(), query.get("on"), query.get("province"))

    @blp.arguments(GroupCreateSchema)
    @blp.response(201, GroupSchema)
    def post(self, data):
        """Define a group of current communes of one province (admin)."""
        return committed(supervision.create_group(session(), require_actor(), **data))


@blp.route("/<code>")
class GroupByCode(MethodView):
    @blp.arguments(GroupDaySchema, location="query")
    @blp.response(200, GroupSchema)
    def get(self, query, code):
        """The version of the group in force today (or on `on`)."""
        return supervision.get_group(session(), code, query.get("on"))


@blp.route("/<code>/communes")
class GroupCommunes(MethodView):
    @blp.arguments(GroupCommunesSchema)
    @blp.response(201, GroupSchema)
    def put(self, data, code):
        """Give the group new communes (admin): its current version closes on `effective` and the next opens,
        with the staff bound to it."""
        return committed(
            supervision.set_group_communes(session(), require_actor(), code, data["commune_codes"], data["effective"])
        )


@blp.route("/<code>/close")
class GroupClosing(MethodView):
    @blp.arguments(GroupCloseSchema)
    @blp.response(200, GroupSchema)
    def post(self, data, code):
        """Close the group (admin); its staff keep its communes as a historic, read-only reach."""
        return committed(supervision.close_group(session(), require_actor(), code, data["effective"]))
