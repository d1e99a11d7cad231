"""Who is asking: Bearer tokens and the login session, the login page, and CSRF.

Pages use the session cookie and CSRF-protected forms. The API (under /api/)
is exempt from the blanket CSRF check because Bearer requests cannot be
forged cross-site; API views that write call `require_csrf_for_cookie_auth()`
so cookie-authenticated writes still need the X-CSRFToken header.

The login session is Flask's signed cookie holding the user's id, the user's
session generation, the login time and the time of the last request. It is
refused when the generation is no longer the user's (logout, deactivation and
a password change bump it, in the database, so every worker refuses it at
once), after SESSION_IDLE_MINUTES without a request and SESSION_ABSOLUTE_HOURS
after the login. The idle clock is refreshed in the cookie itself, so no
request writes to the database to stay signed in.

Sign-ins are throttled: failed attempts are counted per username and per
client address (Flask-Limiter, in RATELIMIT_STORAGE_URI), and past the limit
/login answers 429 without checking the password. Every sign-in, failed or
not, is audited after the password check's read.
"""

from __future__ import annotations

import logging
import math
import time

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_limiter import Limiter
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits import parse_many
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from .. import db as units
from ..services import accounts
from ..services.access import Actor, actor_for
from . import get_session, reads_then_writes

API_PREFIX = "/api/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
USER_ID_KEY = "user_id"
GENERATION_KEY = "generation"
LOGIN_AT_KEY = "login_at"
SEEN_AT_KEY = "seen_at"
#: The idle clock in the cookie moves on at most this often, so a page's many requests do not each re-send it.
SEEN_RESOLUTION_SECONDS = 60

log = logging.getLogger("camera_registry.auth")
csrf = CSRFProtect()
blueprint = Blueprint("auth", __name__, template_folder="templates")


def _bearer_secret() -> str | None:
    """The token of an `Authorization: Bearer ...` header ('' when blank), or None without one."""
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else None


def current_actor() -> Actor | None:
    """The actor behind this request, from a Bearer token or else the login session; cached in `g`."""
    if "actor" not in g:
        g.actor = _authenticate()
    return g.actor


def _authenticate() -> Actor | None:
    db = get_session()
    secret = _bearer_secret()
    if secret is not None:
        # A request that presents a token stands or falls by it; the cookie is not consulted.
        user = accounts.authenticate_token(db, secret)
    elif USER_ID_KEY in session:
        user = _session_user(db)
    else:
        user = None
    return actor_for(db, user) if user is not None else None


def _session_user(db) -> accounts.User | None:
    """The user of a live login session; a session that has ended is cleared, so its cookie is dropped."""
    now = time.time()
    login_at, seen_at = session.get(LOGIN_AT_KEY), session.get(SEEN_AT_KEY)
    config = current_app.config
    live = (
        isinstance(login_at, (int, float))
        and isinstance(seen_at, (int, float))
        and now - login_at < config["SESSION_ABSOLUTE_HOURS"] * 3600
        and now - seen_at < config["SESSION_IDLE_MINUTES"] * 60
    )
    user = accounts.session_user(db, session[USER_ID_KEY], session.get(GENERATION_KEY)) if live else None
    if user is None:
        session.clear()
        return None
    if now - seen_at >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_AT_KEY] = int(now)
    return user


def _start_session(user: accounts.User) -> None:
    session.clear()  # a fresh session: nothing from before the login survives it
    now = int(time.time())
    session.update({USER_ID_KEY: user.id, GENERATION_KEY: user.session_generation, LOGIN_AT_KEY: now, SEEN_AT_KEY: now})


def keep_own_session(user: accounts.User) -> None:
    """After the user's sessions were ended by their own password change: this request's login session, when it
    is one, carries on under the new generation; every other session (other devices, copied cookies) stays ended."""
    if _bearer_secret() is None and session.get(USER_ID_KEY) == user.id:
        session[GENERATION_KEY] = user.session_generation


def require_csrf_for_cookie_auth() -> None:
    """Refuse (400) an unsafe request authenticated by the session cookie without a valid X-CSRFToken header."""
    if (
        request.method in SAFE_METHODS
        or _bearer_secret() is not None
        or USER_ID_KEY not in session
        or not current_app.config["WTF_CSRF_ENABLED"]
    ):
        return
    csrf.protect()


def _local_path(target: str | None) -> str:
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


class LoginForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired("Nhập tên đăng nhập.")])
    password = PasswordField("Mật khẩu", validators=[DataRequired("Nhập mật khẩu.")])


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
        f"Đăng nhập sai quá nhiều lần. Vì an toàn, việc đăng nhập tạm thời bị "
        f"chặn; vui lòng thử lại sau {minutes} phút.",
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
        return _login_page(form, 401, "Sai tên đăng nhập hoặc mật khẩu")
    _start_session(user)
    return redirect(_local_path(request.args.get("next")))


@blueprint.post("/logout")
def logout():
    """A POST (CSRF-checked like every page form) so another site cannot log the user out.

    It ends every session of the user, on every device: a copy of the cookie is worth nothing after it."""
    actor = current_actor()
    if actor is not None and _bearer_secret() is None and actor.user_id is not None:
        db = get_session()
        accounts.end_sessions(db, actor, actor.user_id)
        db.commit()
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.errorhandler(CSRFError)
def expired_form(error: CSRFError):
    return _login_page(LoginForm(formdata=None), 400, "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng thử lại.")


def _protect_pages() -> None:
    if current_app.config["WTF_CSRF_ENABLED"] and not request.path.startswith(API_PREFIX):
        csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    # The blanket check is ours so the whole /api/ tree is exempt, whichever blueprints serve it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_protect_pages)
    app.context_processor(lambda: {"actor": current_actor()})
    # The failed sign-ins are counted in the limiter's store (RATELIMIT_STORAGE_URI); it limits no route itself.
    app.extensions["login_limiter"] = Limiter(_client_address, app=app)
    app.register_blueprint(blueprint)
