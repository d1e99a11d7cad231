"""The login page, sign-out, `signed_in` for the pages that need a user, and the pages' CSRF check.

Who is asking (a Bearer token or the login session) is settled in
camera_registry.http.actor, for the pages and the API alike. Pages use the
session cookie and CSRF-protected forms. The API (under /api/) is exempt from
the blanket CSRF check because Bearer requests cannot be forged cross-site;
API views that write call `require_csrf_for_cookie_auth()` so
cookie-authenticated writes still need the X-CSRFToken header.

Sign-ins are throttled: failed attempts are counted per username and per
client address (Flask-Limiter, in RATELIMIT_STORAGE_URI), and past the limit
/login answers 429 without checking the password. Every sign-in, failed or
not, is audited after the password check's read.
"""

from __future__ import annotations

import logging
import math
import time
from functools import wraps

from flask import Blueprint, Flask, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext, ngettext
from flask_limiter import Limiter
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from limits import parse_many
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .. import db as units
from ..http.actor import bearer_secret, csrf, current_actor, start_session
from ..http.language import keep_user_language
from ..http.units import get_session, reads_then_writes
from ..models import Role
from ..services import accounts

API_PREFIX = "/api/"

log = logging.getLogger("camera_registry.auth")
blueprint = Blueprint("auth", __name__, template_folder="templates")


def signed_in(view):
    """A page for signed-in users: anyone else is sent to the login page, and back here after it."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        if current_actor() is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


def local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": `next` must not send a user elsewhere."""
    # Browsers read //host, /\host and /<tab>/host as another site.
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(char) < 33 for char in target)
    ):
        return "/"
    return target


#: Where each role's work is, after a sign-in that asked for no page: staff (any other role) land on the map.
LANDING_PAGES = {Role.COMMUNE_POLICE: "police.index", Role.ADMIN: "admin.home"}


class LoginForm(FlaskForm):
    username = StringField(lazy_gettext("Username"), validators=[DataRequired(lazy_gettext("Enter your username."))])
    password = PasswordField(lazy_gettext("Password"), validators=[DataRequired(lazy_gettext("Enter your password."))])


def _login_page(form: LoginForm, status: int, message: str | None = None):
    return render_template("login.html", form=form, message=message), status


def _client_address() -> str:
    from .owner import client_address  # the owner pages' rule for the address behind trusted proxies

    return client_address()


def _sign_in_limits(username: str) -> list[tuple[str, str, str]]:
    """(scope, key, limits) of the counts of failed sign-ins: per username and per client address."""
    config = current_app.config
    return [
        ("login-username", username.strip().lower(), config["LOGIN_RATE_LIMIT_USERNAME"]),
        ("login-address", _client_address(), config["LOGIN_RATE_LIMIT_ADDRESS"]),
    ]


def _throttled_for(username: str) -> float | None:
    """Seconds until this sign-in may be tried, when a count of failures has reached its limit; else None."""
    strategy = current_app.extensions["login_limiter"].limiter
    waits = [
        strategy.get_window_stats(item, scope, key).reset_time - time.time()
        for scope, key, limits in _sign_in_limits(username)
        if key
        for item in parse_many(limits)
        if not strategy.test(item, scope, key)
    ]
    return max(waits) if waits else None


def _count_failed_sign_in(username: str) -> None:
    strategy = current_app.extensions["login_limiter"].limiter
    for scope, key, limits in _sign_in_limits(username):
        for item in parse_many(limits) if key else ():
            strategy.hit(item, scope, key)


def _too_many_sign_ins(form: LoginForm, wait_seconds: float):
    """Throttled: say so plainly, and when to try again. The password was not checked."""
    minutes = max(1, math.ceil(wait_seconds / 60))
    log.warning("sign-in throttled for %r from %s", form.username.data[:64], _client_address())
    page, status = _login_page(
        form,
        429,
        ngettext(
            "Too many failed sign-ins. For safety, signing in is blocked for a while; try again in %(num)d minute.",
            "Too many failed sign-ins. For safety, signing in is blocked for a while; try again in %(num)d minutes.",
            minutes,
        ),
    )
    return page, status, {"Retry-After": str(minutes * 60)}


@blueprint.route("/login", methods=["GET", "POST"])
@reads_then_writes  # the password check is slow and reads; the re-hash and the audit are written after it
def login():
    form = LoginForm()
    if request.method == "GET":
        return _login_page(form, 200)
    if not form.validate_on_submit():
        return _login_page(form, 400)
    username, address = form.username.data.strip(), _client_address()
    if (wait := _throttled_for(username)) is not None:
        return _too_many_sign_ins(form, wait)
    db = get_session()
    user = accounts.authenticate_password(db, username, form.password.data)
    user_id = user.id if user is not None else None
    units.after_read(db, lambda writer: accounts.record_login(writer, username, address, user_id))
    if user is None:
        _count_failed_sign_in(username)
        return _login_page(form, 401, _("Wrong username or password"))
    start_session(user)
    keep_user_language(user.language)
    asked = request.args.get("next")
    return redirect(local_path(asked) if asked else url_for(LANDING_PAGES.get(user.role, "coverage.map_page")))


@blueprint.post("/logout")
def logout():
    """A POST (CSRF-checked like every page form) so another site cannot log the user out.

    It ends every session of the user, on every device: a copy of the cookie is worth nothing after it."""
    actor = current_actor()
    if actor is not None and bearer_secret() is None and actor.user_id is not None:
        db = get_session()
        accounts.end_sessions(db, actor, actor.user_id)
        db.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.errorhandler(CSRFError)
def expired_form(error: CSRFError):
    return _login_page(LoginForm(formdata=None), 400, _("The form has expired or is not valid. Please try again."))


def _account_name() -> str:
    """The header's name of the signed-in user: their full name, else their username."""
    actor = current_actor()
    user = accounts.active_user(get_session(), actor.user_id) if actor and actor.user_id is not None else None
    return (user.full_name or user.username) if user is not None else ""


def _protect_pages() -> None:
    if current_app.config["WTF_CSRF_ENABLED"] and not request.path.startswith(API_PREFIX):
        csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    # The blanket check is ours so the whole /api/ tree is exempt, whichever blueprints serve it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_protect_pages)
    app.context_processor(lambda: {"actor": current_actor(), "account_name": _account_name})
    # The failed sign-ins are counted in the limiter's store (RATELIMIT_STORAGE_URI); it limits no route itself.
    app.extensions["login_limiter"] = Limiter(_client_address, app=app)
    app.register_blueprint(blueprint)
