"""The admins' invitations page (/admin/invitations): owners with no commitment in force, by commune and paged, to
invite to sign one through a link of their own (one or many at once, each owner's result or refusal shown), and the
invitations sent with their link's state; a signed one shows the exact text its owner signed.

The owners' contacts are not shown here: whether an owner can be reached is what an invitation needs to know.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, current_app, render_template, request
from flask_babel import lazy_gettext

from ..http.actor import current_actor
from ..http.statuses import status_of
from ..http.units import get_session
from ..schemas.base import InputSchema
from ..services import commitment_invitations, commitments
from ..services.commitment_invitations import LinkState
from ..services.errors import DomainError
from . import labels
from .auth import signed_in

blueprint = Blueprint("admin_invitations", __name__, url_prefix="/admin/invitations")

OWNERS_PER_PAGE = 50
INVITATIONS_PER_PAGE = 50
MAX_INVITED_AT_ONCE = OWNERS_PER_PAGE

LINK_STATES = {
    LinkState.SIGNED: lazy_gettext("owner signed"),
    LinkState.OPEN: lazy_gettext("open"),
    LinkState.EXPIRED: lazy_gettext("expired"),
}


class InvitationsQuerySchema(InputSchema):
    """The page's filters: a commune (blank: all), the owners' page and the sent invitations' page."""

    class Meta:
        unknown = ma.EXCLUDE

    commune = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))
    sent_page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))


class InviteFormSchema(InputSchema):
    """The owners chosen to invite, by external id."""

    class Meta:
        unknown = ma.EXCLUDE

    owner = ma.fields.List(
        ma.fields.String(validate=ma.validate.Length(min=1, max=64)),
        required=True,
        validate=ma.validate.Length(
            min=1, max=MAX_INVITED_AT_ONCE, error=lazy_gettext("choose between 1 and {max} owners")
        ),
    )


def _admin():
    actor = current_actor()
    actor.require_admin()
    return actor


def _asked() -> dict:
    return {key: value.strip() for key, value in request.args.items() if key != "lang" and value.strip()}


def _render(actor, asked: dict, status: int = 200, errors: dict | None = None, results=None):
    query = InvitationsQuerySchema().load(asked)
    session = get_session()
    owners = commitment_invitations.owners_without_commitment(
        session, actor, commune_code=query["commune"], page=query["page"], page_size=OWNERS_PER_PAGE
    )
    sent = commitment_invitations.sent_invitations(
        session, actor, page=query["sent_page"], page_size=INVITATIONS_PER_PAGE
    )
    return render_template(
        "admin/invitations.html",
        asked=asked,
        errors=errors or {},
        results=results or [],
        owners=owners,
        page=query["page"],
        pages=-(-owners.total // OWNERS_PER_PAGE),
        sent=sent,
        sent_page=query["sent_page"],
        sent_pages=-(-sent.total // INVITATIONS_PER_PAGE),
        link_states=LINK_STATES,
        channel_names=_channel_names,
    ), status


def _channel_names(messages) -> str:
    return ", ".join(str(labels.CHANNELS.get(message.channel.value, message.channel.value)) for message in messages)


def _refused(actor, asked: dict, error):
    errors = error.messages if isinstance(error, ma.ValidationError) else error.errors or {"_": [error.message]}
    try:
        return _render(actor, asked, status_of(error), errors)
    except (ma.ValidationError, DomainError):  # the filters themselves are what was refused
        return render_template("admin/invitations.html", asked=asked, errors=errors, results=[]), status_of(error)


def _answer(actor, asked: dict, results=None):
    """The page, with what an invitation came to; filters it refuses are a 4xx naming them."""
    try:
        return _render(actor, asked, results=results)
    except (ma.ValidationError, DomainError) as error:
        return _refused(actor, asked, error)


@blueprint.get("")
@signed_in
def page():
    return _answer(_admin(), _asked())


@blueprint.post("")
@signed_in
def invite():
    actor = _admin()
    asked = _asked()
    try:
        chosen = InviteFormSchema().load({"owner": request.form.getlist("owner")})
    except ma.ValidationError as error:
        return _refused(actor, asked, error)
    results = commitment_invitations.invite_many(
        get_session(), actor, chosen["owner"], public_base_url=current_app.config["PUBLIC_BASE_URL"]
    )
    get_session().commit()
    return _answer(actor, asked, results)


@blueprint.get("/texts/<int:text_id>")
@signed_in
def signed_text(text_id: int):
    _admin()
    return render_template("admin/invitations_text.html", text=commitments.get_text(get_session(), text_id))
