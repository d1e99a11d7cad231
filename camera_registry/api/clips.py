"""/api/v1/clip-storage: how much footage the clip store holds, per requesting commune (administrators)."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from ..services import evidence
from .base import api_blueprint, require_actor, session

blp = api_blueprint(
    "clip_storage", __name__, "clip-storage", "Footage clips kept in the clip store, per commune (administrators)"
)


class ClipStorageSchema(ma.Schema):
    commune_code = ma.fields.String()
    commune_name = ma.fields.String()
    clips = ma.fields.Integer(metadata={"description": "clips kept (not yet deleted under CLIP_RETENTION_DAYS)"})
    clip_bytes = ma.fields.Integer()
    partial_uploads = ma.fields.Integer(metadata={"description": "uploads still coming in"})
    partial_bytes = ma.fields.Integer()


@blp.route("")
class ClipStorage(MethodView):
    @blp.response(200, ClipStorageSchema(many=True))
    def get(self):
        """Bytes of clips and of unfinished uploads, per commune of the requests they belong to, largest first."""
        return evidence.storage_by_commune(session(), require_actor())
