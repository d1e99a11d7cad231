"""/api/v1/admin-units: provinces, districts and communes with their boundaries."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from ..schemas.base import StrictSchema
from ..services import admin_units
from ..timezones import local_today
from .base import api_blueprint, committed, page_of, paginate, require_actor, session
from .schemas import (
    AdminUnitCreateSchema,
    AdminUnitDetailSchema,
    AdminUnitQuerySchema,
    AdminUnitSchema,
    AdminUnitUpdateSchema,
)


class AdminUnitVersionQuerySchema(StrictSchema):
    on = ma.fields.Date(metadata={"description": "the version in force on this day (default: today)"})


blp = api_blueprint(
    "admin_units", __name__, "admin-units", "Administrative units (read by every role, changed by admin)"
)


@blp.route("")
class AdminUnits(MethodView):
    @blp.arguments(AdminUnitQuerySchema, location="query")
    @blp.response(200, AdminUnitSchema(many=True))
    @paginate(blp)
    def get(self, query, pagination_parameters):
        """List units valid today (or on `on`; all of history with `history=true`)."""
        on = None if query["history"] else query.get("on") or local_today()
        return page_of(
            pagination_parameters,
            admin_units.list_admin_units,
            session(),
            level=query.get("level"),
            parent_code=query.get("parent"),
            on=on,
        )

    @blp.arguments(AdminUnitCreateSchema)
    @blp.response(201, AdminUnitDetailSchema)
    def post(self, data):
        """Create a unit (admin)."""
        return committed(admin_units.create_admin_unit(session(), require_actor(), **data))


@blp.route("/<code>")
class AdminUnitByCode(MethodView):
    @blp.arguments(AdminUnitVersionQuerySchema, location="query")
    @blp.response(200, AdminUnitDetailSchema)
    def get(self, query, code):
        """One unit with its boundary: the version in force today (or on `on`), else its latest version."""
        return admin_units.get_admin_unit(session(), code, query.get("on"))

    @blp.arguments(AdminUnitUpdateSchema)
    @blp.response(200, AdminUnitDetailSchema)
    def patch(self, data, code):
        """Change a unit (admin); a new boundary re-derives every camera's commune."""
        unit, _ = admin_units.update_admin_unit(session(), require_actor(), code, data)
        return committed(unit)
