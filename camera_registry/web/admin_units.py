"""The admins' editions page (/admin/editions): the editions of the administrative units in force, the bundled one,
and loading an edition, the bundled one or an uploaded GeoJSON file, always as a dry run first and then, confirmed
with the same inputs, for real.

The load runs in the request, synchronously: a province's boundaries are read and compared in seconds, well inside
the workers' timeout, and the administrator waits for the report anyway. An uploaded file is staged in the
instance directory between the two steps (services/editions/staging.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import marshmallow as ma
from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext

from ..http.actor import current_actor
from ..http.statuses import status_of
from ..http.units import get_session
from ..schemas.base import InputSchema
from ..services.editions import overview, staging
from ..services.errors import DomainError
from ..timezones import local_today
from .auth import signed_in

blueprint = Blueprint("admin_editions", __name__, url_prefix="/admin/editions")

PROVINCE_CODES = re.compile(r"[\s,;]+")
SOURCES = ("bundled", "upload")


def _not_after_today(day) -> None:
    if day > local_today():
        raise ma.ValidationError(lazy_gettext("an edition is loaded on or after the day it takes effect, not before"))


def _province_codes(text: str) -> list[str]:
    codes = [code for code in PROVINCE_CODES.split(text) if code]
    if any(not code.isalnum() or len(code) > 32 for code in codes):
        raise ma.ValidationError(lazy_gettext("province codes separated by commas, such as 01, 25"))
    return codes


class EditionFormSchema(InputSchema):
    """The edition form of both steps: which edition, from when, for which provinces (blank: all it holds)."""

    class Meta:
        unknown = ma.EXCLUDE

    source = ma.fields.String(required=True, validate=ma.validate.OneOf(SOURCES))
    effective = ma.fields.Date(required=True, validate=_not_after_today)
    provinces = ma.fields.String(load_default="", validate=ma.validate.Length(max=500))
    staged = ma.fields.String(load_default=None, validate=ma.validate.Length(max=80))

    @ma.post_load
    def split_provinces(self, data: dict, **kwargs) -> dict:
        try:
            data["provinces"] = _province_codes(data["provinces"])
        except ma.ValidationError as error:
            raise ma.ValidationError({"provinces": error.messages}) from None
        return data


def _staging_directory() -> Path:
    return Path(current_app.instance_path) / "editions"


def _admin():
    actor = current_actor()
    actor.require_admin()
    return actor


def _render(status: int = 200, **context):
    context.setdefault("errors", {})
    context.setdefault("form", request.form)
    return render_template(
        "admin/editions.html",
        in_force=overview.editions_in_force(get_session()),
        bundled=overview.bundled_edition(),
        **context,
    ), status


@blueprint.get("")
@signed_in
def page():
    _admin()
    return _render()


def _step(dry_run: bool):
    """Parse the form, find the edition it names (staging a new upload), and load or dry-run it."""
    actor = _admin()
    try:
        chosen = EditionFormSchema().load({key: value.strip() for key, value in request.form.items() if value.strip()})
        staged, source = None, None
        if chosen["source"] == "upload":
            staged = chosen["staged"] or _staged_upload(dry_run)
            source = staging.staged_path(_staging_directory(), staged)
        report = staging.load_chosen(
            get_session(), actor, source, chosen["effective"], provinces=chosen["provinces"], dry_run=dry_run
        )
    except (ma.ValidationError, DomainError) as error:
        get_session().rollback()
        errors = error.messages if isinstance(error, ma.ValidationError) else error.errors or {"_": [error.message]}
        return _render(status_of(error), errors=errors)
    if dry_run:
        get_session().rollback()  # the load rolled itself back; nothing else of the request may stay either
    else:
        get_session().commit()
        if staged:
            staging.forget_staged(_staging_directory(), staged)
    return _render(report=report, chosen=dict(chosen, staged=staged))


def _staged_upload(dry_run: bool) -> str:
    """Stage the file a dry run was sent; the load takes only the file its dry run staged."""
    upload = request.files.get("file")
    if not dry_run:
        raise ma.ValidationError({"staged": [lazy_gettext("dry-run the uploaded file first, then load it")]})
    if upload is None or not upload.filename:
        raise ma.ValidationError({"file": [lazy_gettext("choose the edition's GeoJSON file")]})
    return staging.stage_upload(
        _staging_directory(), upload.filename, upload.stream, current_app.config["JSON_MAX_DEPTH"]
    )


@blueprint.post("/dry-run")
@signed_in
def dry_run():
    return _step(dry_run=True)


@blueprint.post("/load")
@signed_in
def load():
    return _step(dry_run=False)
