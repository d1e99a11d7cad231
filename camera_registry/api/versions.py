"""Optimistic locking over HTTP for the registry (sites, owners, recorders, lenses).

Every read and write of one record answers with `ETag: "<version>"` (strong,
the record's version column) and carries `version` in the body. A write names
the version it was read at, either way:
- `If-Match: "<version>"` (the ETag as read), or
- `version` in a PATCH body / `?version=` on a DELETE.
If the record has moved on, the write is refused with 409 `stale_version`
whose `current.version` is the version stored now (409 rather than 412: the
client reloads and decides, as for any other conflict). `If-Match: *` or no
version at all makes the write unconditional: allowed, so existing scripts
keep working, but it still bumps the version, so other clients notice it.
"""

from __future__ import annotations

from functools import wraps

import marshmallow as ma
from flask_smorest import Blueprint
from werkzeug.http import parse_etags

from ..schemas.base import InputSchema
from ..services.errors import ValidationFailed
from ..services.messages import refusal
from .base import committed
from .errors import ErrorSchema

ETAG_HEADERS = {
    "ETag": {
        "description": 'the record\'s version as a strong entity tag, e.g. "3": send it back in If-Match to write',
        "schema": {"type": "string"},
    }
}
STALE_DESCRIPTION = (
    "Conflict: the record changed since you read it (stale_version; `current.version` is the "
    "version stored now), or a unique value is already used"
)


class ConflictErrorSchema(ErrorSchema):
    """A 409: the uniform error shape with `current`, what is stored now."""


class IfMatchSchema(InputSchema):
    """The If-Match request header (other headers are ignored)."""

    class Meta:
        unknown = ma.EXCLUDE

    if_match = ma.fields.String(
        data_key="If-Match",
        load_default=None,
        metadata={
            "description": 'the ETag you read, e.g. "3": the write is refused with 409 if the record has moved on. '
            "Omit it (and `version`), or send *, for an unconditional write."
        },
    )


def version_field() -> ma.fields.Integer:
    return ma.fields.Integer(
        load_default=None,
        allow_none=True,
        validate=ma.validate.Range(min=1),
        metadata={
            "description": "the version you read: refused with 409 if the record has moved on; omit (and If-Match) "
            "for an unconditional write"
        },
    )


class VersionQuerySchema(InputSchema):
    class Meta:
        unknown = ma.RAISE

    version = version_field()


def etag(version: int) -> str:
    return f'"{version}"'


def with_etag(obj, status: int = 200):
    """What a view returns for one record: the record, its status and its ETag."""
    return obj, status, {"ETag": etag(obj.version)}


def expected_version(version: int | None, headers: dict) -> int | None:
    """The version a write names, from the body/query `version` and the If-Match header; None: unconditional."""
    raw = headers.get("if_match")
    if raw is None or not raw.strip():
        return version
    tags = parse_etags(raw)
    if tags.star_tag:
        matched = None
    else:
        strong = list(tags.as_set(include_weak=False))
        if len(strong) != 1 or tags.as_set(include_weak=True) != set(strong) or not strong[0].isdigit():
            raise ValidationFailed(
                refusal('If-Match takes the one strong ETag you read, e.g. "3"'),
                {"If-Match": [refusal('send the ETag as read, e.g. "3", or *')]},
            )
        matched = int(strong[0])
    if version is not None and matched is not None and version != matched:
        raise ValidationFailed(
            refusal("version %(version)s and If-Match %(tag)s disagree", version=version, tag=raw.strip()),
            {"version": [refusal("differs from If-Match %(tag)s", tag=raw.strip())]},
        )
    return matched if matched is not None else version


def versioned_write(blueprint: Blueprint, schema: ma.Schema, changes: type[ma.Schema] | None = None):
    """A write to one record that names the version it read, as documented above: a change (PATCH) reads
    `changes` from the body, a removal (DELETE) only ?version=. The view gets the changes (for a change), the
    version its write expects (None: unconditional) and the record's id, and returns the record it wrote;
    that is committed and answered with its ETag, or 409 when the version named is stale."""
    read = blueprint.arguments(changes) if changes else blueprint.arguments(VersionQuerySchema, location="query")

    def decorator(write):
        @read
        @blueprint.arguments(IfMatchSchema, location="headers")
        @blueprint.response(200, schema, headers=ETAG_HEADERS)
        @blueprint.alt_response(409, schema=ConflictErrorSchema, description=STALE_DESCRIPTION)
        @wraps(write)
        def view(self, data, headers, **record_id):
            version = expected_version(data.pop("version", None), headers)
            written = write(self, data, version, **record_id) if changes else write(self, version, **record_id)
            return with_etag(committed(written))

        return view

    return decorator
