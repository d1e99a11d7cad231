"""/api/v1/users: accounts (admin) and the signed-in user's own profile and tokens."""

from __future__ import annotations

import marshmallow as ma
from flask.views import MethodView

from ..http.actor import keep_own_session
from ..schemas.base import StrictSchema
from ..services import accounts
from ..services.errors import ValidationFailed
from ..services.messages import field_refusal, joined
from .base import api_blueprint, committed, require_actor, session
from .schemas import NewTokenSchema, TokenCreateSchema, TokenSchema, UserCreateSchema, UserSchema

blp = api_blueprint("users", __name__, "users", "Staff accounts and API tokens")


@blp.route("")
class Users(MethodView):
    @blp.response(200, UserSchema(many=True))
    def get(self):
        """All accounts (admin)."""
        return accounts.list_users(session(), require_actor())

    @blp.arguments(UserCreateSchema)
    @blp.response(201, UserSchema)
    def post(self, data):
        """Create an account bound to the unit its role works in, or for district_staff to an open supervision
        group (`group_code`) (admin); closed units and groups are refused, naming the field."""
        return committed(accounts.create_user(session(), require_actor(), **data))


@blp.route("/<username>/deactivate")
class UserDeactivation(MethodView):
    @blp.response(200, UserSchema)
    def post(self, username):
        """Deactivate an account (admin); it is kept for the audit trail."""
        return committed(accounts.deactivate_user(session(), require_actor(), username))


@blp.route("/me")
class Me(MethodView):
    @blp.response(200, UserSchema)
    def get(self):
        """Who you are signed in as."""
        return accounts.own_account(session(), require_actor())


class PasswordChangeSchema(StrictSchema):
    current_password = ma.fields.String(
        required=True, load_only=True, metadata={"description": "the password you sign in with now"}
    )
    new_password = ma.fields.String(
        required=True,
        load_only=True,
        metadata={
            "description": "10 to 256 characters, not a common or guessable password, nor your name (NIST SP 800-63B)"
        },
    )


@blp.route("/me/password")
class MyPassword(MethodView):
    @blp.arguments(PasswordChangeSchema)
    @blp.response(204)
    def post(self, data):
        """Change your password. Every other login session of yours ends (other devices, copied cookies); this
        one carries on. A wrong current password or a refused new one is a 422 naming the field."""
        actor = require_actor()
        user = accounts.own_account(session(), actor)
        try:
            accounts.change_password(
                session(), actor, user.username, data["new_password"], current_password=data["current_password"]
            )
        except ValidationFailed as refused:
            if "password" not in refused.errors:
                raise
            reasons = refused.errors["password"]
            raise ValidationFailed(field_refusal("new_password", joined(reasons)), {"new_password": reasons}) from None
        committed(user)
        keep_own_session(user)


@blp.route("/me/tokens")
class MyTokens(MethodView):
    @blp.response(200, TokenSchema(many=True))
    def get(self):
        return accounts.list_own_tokens(session(), require_actor())

    @blp.arguments(TokenCreateSchema)
    @blp.response(201, NewTokenSchema)
    def post(self, data):
        """A new Bearer token for yourself; its secret is in this response only."""
        token, secret = accounts.create_own_token(session(), require_actor(), **data)
        committed(token)
        return {**{name: getattr(token, name) for name in TokenSchema().fields}, "secret": secret}


@blp.route("/me/tokens/<int:token_id>")
class MyToken(MethodView):
    @blp.response(200, TokenSchema)
    def delete(self, token_id):
        """Revoke one of your tokens."""
        return committed(accounts.revoke_token(session(), require_actor(), token_id))
