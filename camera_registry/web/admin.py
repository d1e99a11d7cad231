"""The admins' pages: the admin home, where an admin lands after signing in and which links every admin page
(later admin pages add their line to ADMIN_PAGES), and who read owners' contacts.

Admins only: anyone else signed in gets the plain 403 page, anyone signed out the login page.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, render_template, request, url_for
from flask_babel import lazy_gettext

from ..http.actor import current_actor
from ..http.statuses import status_of
from ..http.units import get_session
from ..schemas.base import InputSchema
from ..services import contact_reads
from ..services.errors import DomainError
from . import labels
from .auth import signed_in
from .i18n import form_errors

blueprint = Blueprint("admin", __name__, url_prefix="/admin")

#: The admin home's links: (endpoint, title, what it is for).
ADMIN_PAGES = [
    (
        "admin_users.users",
        lazy_gettext("Staff accounts"),
        lazy_gettext("Accounts, their roles, units or groups, passwords and API tokens"),
    ),
    (
        "admin.contact_reads_page",
        lazy_gettext("Contact reads"),
        lazy_gettext("Who read owners' contact data, and where"),
    ),
    (
        "admin_channels.channels",
        lazy_gettext("Channel problems"),
        lazy_gettext("Zalo and SMS provider errors that hold messages back"),
    ),
    (
        "admin_editions.page",
        lazy_gettext("Editions of the administrative units"),
        lazy_gettext("The units in force, and loading a later edition after a dry run"),
    ),
    (
        "admin_invitations.page",
        lazy_gettext("Invitations to sign a commitment"),
        lazy_gettext("Owners with no commitment in force, invited to sign one through a link"),
    ),
    (
        "admin_imports.page",
        lazy_gettext("Register imports"),
        lazy_gettext("Upload commune registers and follow their imports"),
    ),
    (
        "admin_breaches.page",
        lazy_gettext("Personal data breaches"),
        lazy_gettext("Record a breach, follow its 72-hour clock and print the notification to A05"),
    ),
    (
        "admin_subject_requests.page",
        lazy_gettext("Data-subject requests"),
        lazy_gettext("Owners' requests to see, correct, restrict or delete their data, with their legal clocks"),
    ),
    ("figures.page", lazy_gettext("Figures"), lazy_gettext("Figures per unit, with CSV and XLSX downloads")),
    ("police.index", lazy_gettext("Footage requests"), lazy_gettext("Every request and its history")),
    ("coverage.map_page", lazy_gettext("Coverage map"), lazy_gettext("Communes, lenses and their fields of view")),
]
CONTACT_READS_PER_PAGE = 50


def _admin():
    actor = current_actor()
    actor.require_admin()
    return actor


@blueprint.get("")
@signed_in
def home():
    _admin()
    links = [(url_for(endpoint), title, purpose) for endpoint, title, purpose in ADMIN_PAGES]
    return render_template("admin/home.html", links=links, api_docs="/api/docs")


class ContactReadsQuerySchema(InputSchema):
    """The contact-reads page's filters, from its query string; blanks are no filter."""

    class Meta:
        unknown = ma.EXCLUDE

    start = ma.fields.Date(data_key="from", load_default=None)
    end = ma.fields.Date(data_key="to", load_default=None)
    commune = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))
    owner = ma.fields.Integer(load_default=None, validate=ma.validate.Range(min=1))
    page = ma.fields.Integer(load_default=1, validate=ma.validate.Range(min=1))


@blueprint.get("/contact-reads")
@signed_in
def contact_reads_page():
    actor = _admin()
    asked = {key: value.strip() for key, value in request.args.items() if value.strip()}
    try:
        query = ContactReadsQuerySchema().load(asked)
        found = contact_reads.contact_reads(
            get_session(),
            actor,
            first=query["start"],
            end=query["end"],
            commune_code=query["commune"],
            owner_id=query["owner"],
            page=query["page"],
            page_size=CONTACT_READS_PER_PAGE,
        )
    except (ma.ValidationError, DomainError) as error:
        return render_template("admin/contact_reads.html", errors=form_errors(error), asked=asked), status_of(error)
    pages = -(-found.lines.total // CONTACT_READS_PER_PAGE)
    return render_template(
        "admin/contact_reads.html",
        errors={},
        asked=asked,
        found=found,
        page=query["page"],
        pages=pages,
        labels=labels,
    )
