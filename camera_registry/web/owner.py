"""The owner's pages at /o/<token>: what the police ask, in plain words, and the forms to answer.

Owners reach these from a message on their phone, with no account: the
token is the key. Every route is rate-limited per address and route. Forms
carry CSRF tokens; the clip upload reads its body as a stream, so it checks
the token itself on the field that precedes the file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import marshmallow as ma
from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFError, validate_csrf
from marshmallow import validate
from werkzeug.datastructures import Headers
from werkzeug.exceptions import ClientDisconnected, RequestEntityTooLarge
from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import Data, Epilogue, Field, File, MultipartDecoder, NeedData
from wtforms.validators import ValidationError as CSRFInvalid

from ..http.actor import csrf
from ..http.language import current_language, set_reader_language
from ..http.statuses import status_of
from ..http.units import get_session, reads_then_writes, write_unit
from ..models import Channel, Handover, LinkPurpose
from ..services import owner_answers, owner_links, owner_preferences
from ..services.channels.phones import readable_phone
from ..services.clips import ClipRefused, ClipTooLarge
from ..services.errors import ValidationFailed
from ..services.notifications import last_valid_day
from ..services.owner_answers import DEAD_STATES, PageState, Refusal
from ..services.wording import MESSAGE_LANGUAGES
from . import tus

blueprint = Blueprint("owner", __name__, url_prefix="/o")

CHUNK_BYTES = 1024 * 1024
#: Room in an upload's body for the multipart headers and the CSRF field besides the clip itself.
FORM_OVERHEAD_BYTES = 64 * 1024

STATE_STATUS = {
    PageState.OPEN: 200,
    PageState.ANSWERED: 200,
    PageState.UNKNOWN: 404,
    **dict.fromkeys(DEAD_STATES, 410),
}
REFUSAL_STATUS = {
    Refusal.ALREADY_ANSWERED: 409,
    Refusal.NOT_OFFERED: 409,
    "too_large": 413,
    "type": 415,
    "empty": 400,
    "incomplete": 400,
    "form_expired": 400,
    "clock": 400,
    owner_preferences.NO_EMAIL: 400,
    owner_preferences.NO_PHONE: 400,
}


class AnswerSchema(ma.Schema):
    action = ma.fields.String(
        required=True, validate=validate.OneOf(owner_answers.ASSIGNMENT_ANSWERS + owner_answers.COMMITMENT_ANSWERS)
    )
    handover = ma.fields.Enum(Handover, by_value=True, load_default=None)
    reason = ma.fields.String(load_default=None, validate=validate.OneOf(owner_answers.NO_FOOTAGE_REASONS))
    note = ma.fields.String(load_default=None, validate=validate.Length(max=owner_answers.NOTE_MAX_LENGTH))
    #: Revoking needs its box ticked: checked here, so it holds without JavaScript.
    confirm = ma.fields.Boolean(load_default=False, load_only=True)

    class Meta:
        unknown = ma.EXCLUDE  # the CSRF token

    @ma.validates_schema
    def _complete(self, data, **kwargs):
        if data["action"] == "consent" and data["handover"] is None:
            raise ma.ValidationError("choose how the footage is handed over", "handover")
        if data["action"] == "report_no_footage" and data["reason"] is None:
            raise ma.ValidationError("say why there is no footage", "reason")
        if data["action"] == "revoke" and not data["confirm"]:
            raise ma.ValidationError("tick the box to confirm revoking", "confirm")

    @ma.post_load
    def _confirmed(self, data, **kwargs):
        del data["confirm"]  # checked above; the answer itself does not carry it
        return data


class ContactSchema(ma.Schema):
    """The contact form: an empty channel is "no preference", an unticked opt-out box is not sent; a form
    without a message language (an older page) keeps the owner's."""

    channel = ma.fields.Enum(Channel, by_value=True, load_default=None)
    non_urgent_opt_out = ma.fields.Boolean(load_default=False)
    message_language = ma.fields.String(load_default=None, validate=validate.OneOf(MESSAGE_LANGUAGES))

    class Meta:
        unknown = ma.EXCLUDE  # the CSRF token and the form's action

    @ma.validates("channel")
    def _offered(self, value, **kwargs):
        if value is not None and value not in owner_preferences.CHOICES:
            raise ma.ValidationError("not a channel an owner may choose")


def _render(page: owner_answers.OwnerPage, status: int | None = None):
    if page.state == PageState.UNKNOWN or page.state in DEAD_STATES:
        template = "owner/dead.html"
    elif page.link.purpose == LinkPurpose.COMMITMENT:
        template = "owner/commitment.html"
    else:
        template = "owner/assignment.html"
    status = status or REFUSAL_STATUS.get(page.refusal) or STATE_STATUS[page.state]
    return render_template(template, page=page, token=request.view_args.get("token")), status


def page_language(token: str) -> str:
    """The page's language by the pages' rule, the owner's message language coming before Vietnamese."""
    set_reader_language(owner_links.link_owner_language(get_session(), token))
    return current_language()


@blueprint.get("/<token>")
def show(token: str):
    return _render(owner_answers.open_link(get_session(), token, language=page_language(token)))


@blueprint.post("/<token>")
def submit(token: str):
    session = get_session()
    language = page_language(token)
    form = {key: value.strip() for key, value in request.form.items() if value.strip()}
    try:
        page = owner_answers.answer(
            session, token, **AnswerSchema().load(form), language=language, device=_device_facts()
        )
    except (ma.ValidationError, ValidationFailed) as error:
        session.rollback()
        errors = error.messages if isinstance(error, ma.ValidationError) else error.errors
        page = replace(owner_answers.open_link(session, token, language=language), errors=errors)
        session.commit()
        return _render(page, status_of(error))
    if page.refusal is not None:
        session.rollback()
        return _render(page)
    session.commit()
    return redirect(url_for(".show", token=token), code=303)


def _device_facts() -> dict[str, str]:
    """What a consent through the link keeps of the device (models.consent.DEVICE_FACTS): its browser, the
    address as the rate limit sees it, and the languages it asked for."""
    return {
        "user_agent": request.headers.get("User-Agent", ""),
        "client_address": client_address(),
        "accept_language": request.headers.get("Accept-Language", ""),
    }


@blueprint.post("/<token>/contact")
def contact(token: str):
    session = get_session()
    language = page_language(token)
    form = {key: value.strip() for key, value in request.form.items() if value.strip()}
    try:
        choice = ContactSchema().load(form)
    except ma.ValidationError as error:
        page = replace(owner_answers.open_link(session, token, language=language), errors=error.messages)
        session.commit()
        return _render(page, status_of(error))
    page = owner_preferences.set_contact_preferences(session, token, **choice, language=language)
    if page.refusal is not None:
        session.rollback()
        return _render(page)
    session.commit()
    return redirect(url_for(".show", token=token), code=303)


class StreamedClip:
    """The upload form's body read as it arrives: the CSRF field first, then the file in chunks.

    Never `request.files`: that would spool the whole clip before the link,
    the type or the size were checked.
    """

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._events: Iterator = iter(())
        self.fields: dict[str, str] = {}  # the form's fields before the file (the recorder's clock check)

    def _read(self) -> Iterator:
        mimetype, options = parse_options_header(request.headers.get("Content-Type", ""))
        if mimetype != "multipart/form-data" or not options.get("boundary"):
            raise ClipRefused("empty", "send the clip with the upload form")
        try:
            stream = request.stream  # refuses a declared length over the limit at once
            decoder = MultipartDecoder(options["boundary"].encode())  # fields are bounded in open()
            while True:
                chunk = stream.read(CHUNK_BYTES)
                decoder.receive_data(chunk or None)
                event = decoder.next_event()
                while not isinstance(event, (NeedData, Epilogue)):
                    yield event
                    event = decoder.next_event()
                if isinstance(event, Epilogue) or not chunk:
                    return
        except RequestEntityTooLarge:
            raise ClipTooLarge(self.max_bytes) from None
        except (ClientDisconnected, ValueError):
            raise ClipRefused("incomplete", "the upload was interrupted or malformed") from None

    def open(self) -> tuple[str, str]:
        self._events = self._read()
        fields: dict[str, bytes] = {}
        name = None
        for event in self._events:
            if isinstance(event, File):
                self._check_csrf(fields.get(current_app.config["WTF_CSRF_FIELD_NAME"], b"").decode(errors="replace"))
                self.fields = {key: value.decode(errors="replace").strip() for key, value in fields.items()}
                if not event.filename:
                    raise ClipRefused("empty", "choose a file")
                return event.filename, Headers(event.headers).get("Content-Type", "")
            if isinstance(event, Field):
                name = event.name
                fields[name] = b""
            elif isinstance(event, Data) and name is not None:
                fields[name] += event.data
                if sum(map(len, fields.values())) > FORM_OVERHEAD_BYTES:
                    raise ClipRefused("empty", "the form carries too much besides the file")
        raise ClipRefused("empty", "no file was sent")

    def chunks(self) -> Iterator[bytes]:
        for event in self._events:
            if isinstance(event, Data):
                if event.data:
                    yield event.data
                if not event.more_data:
                    return

    @staticmethod
    def _check_csrf(token: str) -> None:
        if not current_app.config["WTF_CSRF_ENABLED"]:
            return
        try:
            validate_csrf(token)
        except CSRFInvalid:
            raise ClipRefused("form_expired", "the form expired; open the link again") from None


@blueprint.post("/<token>/clip")
@csrf.exempt  # checked on the streamed field: the blanket check would read the whole body first
@reads_then_writes  # no write lock is held while the clip streams in
def upload_clip(token: str):
    max_bytes = current_app.config["CLIP_MAX_BYTES"]
    request.max_content_length = max_bytes + FORM_OVERHEAD_BYTES
    storage = current_app.config["CLIP_STORAGE_DIR"] or Path(current_app.instance_path) / "clips"
    page = owner_answers.receive_clip(
        get_session(),
        token,
        StreamedClip(max_bytes),
        storage_dir=Path(storage),
        max_bytes=max_bytes,
        write=write_unit,
        language=page_language(token),
    )
    if page.refusal is not None:
        return _render(page)
    return redirect(url_for(".show", token=token), code=303)


# --------------------------------------------------------------------------- resumable uploads (tus)
# CSRF: these routes take no form and no cookie stands for the owner: the link's token in the path is the
# whole credential, and another site cannot know it. A cross-site page could not send these requests anyway
# (PATCH/DELETE, custom Tus-* headers and a non-form type all need a CORS preflight, which is never granted).
# A header token would add nothing, and it would expire (WTF_CSRF_TIME_LIMIT) under a long upload.


def _owner_intake(token: str):
    return lambda: owner_answers.upload_intake(get_session(), token)


@blueprint.route("/<token>/uploads", methods=["OPTIONS"])
@csrf.exempt
@tus.tus_view
def tus_options(token: str):
    return tus.options()


@blueprint.route("/<token>/uploads", methods=["POST"])
@csrf.exempt
@tus.tus_view
def tus_create(token: str):
    return tus.create(_owner_intake(token), lambda upload_id: url_for(".tus_status", token=token, upload_id=upload_id))


@blueprint.route("/<token>/uploads/<upload_id>", methods=["HEAD"])
@csrf.exempt
@tus.tus_view
def tus_status(token: str, upload_id: str):
    return tus.status(_owner_intake(token), upload_id)


@blueprint.route("/<token>/uploads/<upload_id>", methods=["PATCH"])
@csrf.exempt
@reads_then_writes  # the bytes stream with no transaction open; offsets are written in short units
@tus.tus_view
def tus_append(token: str, upload_id: str):
    return tus.append(_owner_intake(token), upload_id)


@blueprint.route("/<token>/uploads/<upload_id>", methods=["DELETE"])
@csrf.exempt
@tus.tus_view
def tus_terminate(token: str, upload_id: str):
    return tus.terminate(_owner_intake(token), upload_id)


def _plain_page(template: str, status: int):
    return render_template(template, token=(request.view_args or {}).get("token")), status


@blueprint.errorhandler(429)
def too_many_requests(error):
    return _plain_page("owner/too_many.html", 429)


@blueprint.errorhandler(CSRFError)
def expired_form(error):
    return _plain_page("owner/expired_form.html", 400)


@blueprint.app_template_filter("filesize")
def filesize(size: float) -> str:
    """Bytes as people read them: 2.0 GB, 5.3 MB."""
    for unit in ("B", "KB", "MB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


blueprint.add_app_template_filter(readable_phone, "phone")
#: A commitment's end date on the page is the one its messages give: its last day in force, in Vietnam.
blueprint.add_app_template_filter(last_valid_day, "last_day_in_force")


@blueprint.app_template_filter("clock_offset")
def clock_offset(seconds: float | None) -> str:
    """A recorder's clock against the real time, as people say it: 00:00:30 fast, 1:05:00 slow, correct."""
    if seconds is None:
        return _("not checked")
    if abs(seconds) < 1:
        return _("correct (no offset)")
    whole = round(abs(seconds))
    duration = f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return _("%(duration)s fast", duration=duration) if seconds > 0 else _("%(duration)s slow", duration=duration)


@blueprint.context_processor
def _upload_settings():
    return {"upload_chunk_bytes": tus.CLIENT_CHUNK_BYTES}


@blueprint.after_request
def private(response):
    """The URL is the owner's key: never cached, sent on as a referrer, or indexed."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def client_address() -> str:
    """The owner's address; behind N trusted proxies, the one the outermost of them saw."""
    hops = current_app.config["RATELIMIT_TRUSTED_PROXIES"]
    forwarded = request.access_route if "X-Forwarded-For" in request.headers else []
    return forwarded[-hops] if hops and len(forwarded) >= hops else (request.remote_addr or "")


def init_app(app: Flask) -> None:
    # One limiter per app: its counters live in the app's configured store.
    limiter = Limiter(client_address, app=app)
    limiter.limit(lambda: current_app.config["OWNER_LINK_RATE_LIMIT"])(blueprint)
    app.register_blueprint(blueprint)
