"""The admins' pages of staff accounts, /admin/users: the list and its filters, a new account, and per account its
role and unit or supervision group, a password reset, the deactivation and the API tokens.

Each view parses its form, calls one service of `accounts` (which checks and audits) and renders. A password or a
token secret is shown once, on the page that answers the form, and never stored in the clear; a refusal shows the
form again with the reason beside its field and the status of the one table. Admins only: anyone else signed in
gets the plain 403 page, anyone signed out the login page.
"""

from __future__ import annotations

import marshmallow as ma
from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext

from ..http.actor import current_actor
from ..http.statuses import status_of
from ..http.units import get_session
from ..models import Role
from ..schemas.base import InputSchema
from ..services import accounts
from ..services.errors import DomainError
from . import labels
from .auth import signed_in
from .i18n import form_errors

blueprint = Blueprint("admin_users", __name__, url_prefix="/admin/users")

#: A token's state (accounts.token_state), in words.
TOKEN_STATES = {
    "active": lazy_gettext("live"),
    "expired": lazy_gettext("expired"),
    "revoked": lazy_gettext("revoked"),
}
ROLE_VALUES = [role.value for role in Role]


class _FormSchema(InputSchema):
    """A page's form: the CSRF field and the buttons are not the schema's."""

    class Meta:
        unknown = ma.EXCLUDE


class UserFilterSchema(_FormSchema):
    role = ma.fields.String(load_default=None, validate=ma.validate.OneOf(ROLE_VALUES))
    binding = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))
    active = ma.fields.Boolean(load_default=None)


class BindingSchema(_FormSchema):
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLE_VALUES))
    admin_unit_code = ma.fields.String(load_default=None, validate=ma.validate.Length(max=20))
    group_code = ma.fields.String(load_default=None, validate=ma.validate.Length(max=64))


class PasswordChoiceSchema(_FormSchema):
    """A generated password (shown once), or the one the administrator typed."""

    password_choice = ma.fields.String(load_default="generate", validate=ma.validate.OneOf(["generate", "typed"]))
    password = ma.fields.String(load_default=None)

    @ma.validates_schema
    def _typed_needs_a_password(self, data, **kwargs):
        if data["password_choice"] == "typed" and not data["password"]:
            raise ma.ValidationError([lazy_gettext("type the password, or choose a generated one")], "password")


class NewUserSchema(BindingSchema, PasswordChoiceSchema):
    username = ma.fields.String(required=True, validate=ma.validate.Length(max=64))
    full_name = ma.fields.String(load_default="", validate=ma.validate.Length(max=accounts.FULL_NAME_MAX))


class NewTokenSchema(_FormSchema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(max=accounts.TOKEN_NAME_MAX))
    expires_in_days = ma.fields.Integer(
        load_default=None, validate=ma.validate.Range(min=1, max=accounts.TOKEN_MAX_DAYS)
    )


def _form(schema: ma.Schema) -> dict:
    """The posted form as its schema loads it, blanks dropped."""
    return schema.load({key: value.strip() for key, value in request.form.items() if value.strip()})


def _admin():
    actor = current_actor()
    actor.require_admin()
    return actor


def _refusal(error: ma.ValidationError | DomainError) -> tuple[dict, int]:
    """Nothing of the refused change is kept; the reasons by field, in the page's language, and the status."""
    get_session().rollback()
    return form_errors(error), status_of(error)


def _shown_once(template: str, **context):
    """A page with a password or token secret on it: never kept by a cache or the browser's history."""
    response = render_template(template, roles=labels.ROLES, **context)
    return response, 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}


@blueprint.get("")
@signed_in
def users():
    actor = _admin()
    session = get_session()
    asked = {key: value.strip() for key, value in request.args.items() if value.strip() and key != "lang"}
    try:
        query = UserFilterSchema().load(asked)
    except ma.ValidationError as error:
        errors, status = _refusal(error)
        return render_template("admin/users.html", errors=errors, asked=asked, found=[], roles=labels.ROLES), status
    found = accounts.find_users(
        session,
        actor,
        role=Role(query["role"]) if query["role"] else None,
        binding_code=query["binding"],
        active=query["active"],
    )
    return render_template(
        "admin/users.html",
        errors={},
        asked=asked,
        found=found,
        signed_in_at=accounts.last_sign_ins(session, actor, [user.id for user in found]),
        roles=labels.ROLES,
    )


@blueprint.route("/new", methods=["GET", "POST"])
@signed_in
def new_user():
    actor = _admin()
    errors, status = {}, 200
    if request.method == "POST":
        try:
            data = _form(NewUserSchema())
            username, full_name = data["username"], data["full_name"]
            generate = data["password_choice"] == "generate"
            generated = accounts.generated_password(username, full_name) if generate else None
            session = get_session()
            user = accounts.create_user(
                session,
                actor,
                username,
                generated or data["password"],
                data["role"],
                data["admin_unit_code"],
                full_name,
                group_code=data["group_code"],
            )
            session.commit()
            return _shown_once("admin/users_password.html", user=user, password=generated, created=True)
        except (ma.ValidationError, DomainError) as error:
            errors, status = _refusal(error)
    return render_template("admin/users_new.html", errors=errors, form=request.form, roles=labels.ROLES), status


def _user_page(username: str, errors: dict | None = None, status: int = 200):
    """One account: its binding form, password reset, deactivation and tokens; `errors` beside their fields."""
    actor = _admin()
    session = get_session()
    user = accounts.get_user(session, username)
    return render_template(
        "admin/users_show.html",
        user=user,
        own=user.id == actor.user_id,
        signed_in_at=accounts.last_sign_ins(session, actor, [user.id]).get(user.id),
        tokens=[(token, accounts.token_state(token)) for token in accounts.list_tokens(session, user)],
        errors=errors or {},
        form=request.form,
        roles=labels.ROLES,
        token_states=TOKEN_STATES,
    ), status


@blueprint.get("/<username>")
@signed_in
def user_page(username: str):
    return _user_page(username)


def _change(username: str, change, done=None):
    """Apply one change from the account page's forms and commit; then `done()` answers, or the account page does.
    A refusal shows the account page again, as stored, with the reasons beside their fields."""
    actor = _admin()
    try:
        answer = change(get_session(), actor)
        get_session().commit()
    except (ma.ValidationError, DomainError) as error:
        return _user_page(username, *_refusal(error))
    return done(answer) if done else redirect(url_for(".user_page", username=username), code=303)


@blueprint.post("/<username>/binding")
@signed_in
def rebind(username: str):
    def change(session, actor):
        data = _form(BindingSchema())
        return accounts.rebind_user(session, actor, username, data["role"], data["admin_unit_code"], data["group_code"])

    return _change(username, change)


@blueprint.post("/<username>/password")
@signed_in
def reset_password(username: str):
    def change(session, actor):
        data = _form(PasswordChoiceSchema())
        typed = data["password"] if data["password_choice"] == "typed" else None
        return accounts.reset_password(session, actor, username, typed)

    return _change(
        username,
        change,
        lambda reset: _shown_once("admin/users_password.html", user=reset[0], password=reset[1], created=False),
    )


@blueprint.route("/<username>/deactivate", methods=["GET", "POST"])
@signed_in
def deactivate(username: str):
    """GET asks for the confirmation; the POST of its form deactivates."""
    if request.method == "GET":
        actor = _admin()
        user = accounts.get_user(get_session(), username)
        return render_template("admin/users_deactivate.html", user=user, own=user.id == actor.user_id)
    return _change(username, lambda session, actor: accounts.deactivate_user(session, actor, username))


@blueprint.post("/<username>/tokens")
@signed_in
def new_token(username: str):
    def change(session, actor):
        data = _form(NewTokenSchema())
        user = accounts.get_user(session, username)
        return accounts.create_token(session, actor, user, data["name"], data["expires_in_days"])

    return _change(
        username,
        change,
        lambda created: _shown_once("admin/tokens_new.html", user=created[0].user, token=created[0], secret=created[1]),
    )


@blueprint.route("/<username>/tokens/<int:token_id>/revoke", methods=["GET", "POST"])
@signed_in
def revoke_token(username: str, token_id: int):
    """GET asks for the confirmation; the POST of its form revokes."""
    actor = _admin()
    token = accounts.user_token(get_session(), actor, username, token_id)
    if request.method == "GET":
        return render_template(
            "admin/tokens_revoke.html", user=token.user, token=token, state=TOKEN_STATES[accounts.token_state(token)]
        )
    return _change(username, lambda session, actor: accounts.revoke_token(session, actor, token.id))
