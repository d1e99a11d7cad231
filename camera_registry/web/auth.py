"""Who is asking: Bearer tokens and the login session, the login page, and CSRF.

Pages use the session cookie and CSRF-protected forms. The API (under /api/)
is exempt from the blanket CSRF check because Bearer requests cannot be
forged cross-site; API views that write call `require_csrf_for_cookie_auth()`
so cookie-authenticated writes still need the X-CSRFToken header.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError, CSRFProtect
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from ..services import accounts
from ..services.access import Actor, actor_for
from . import get_session, reads_then_writes

API_PREFIX = "/api/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
USER_ID_KEY = "user_id"

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
        user = accounts.active_user(db, session[USER_ID_KEY])
    else:
        user = None
    return actor_for(db, user) if user is not None else None


def require_csrf_for_cookie_auth() -> None:
    """Refuse (400) an unsafe request authenticated by the session cookie without a valid X-CSRFToken header."""
    if (request.method in SAFE_METHODS or _bearer_secret() is not None or USER_ID_KEY not in session
            or not current_app.config["WTF_CSRF_ENABLED"]):
        return
    csrf.protect()


def _local_path(target: str | None) -> str:
    """`target` when it is a path on this site, else "/": `next` must not send a user elsewhere."""
    # Browsers read //host, /\host and /<tab>/host as another site.
    if (not target or not target.startswith("/") or target.startswith("//") or "\\" in target
            or any(ord(char) < 33 for char in target)):
        return "/"
    return target


class LoginForm(FlaskForm):
    username = StringField("Tên đăng nhập", validators=[DataRequired("Nhập tên đăng nhập.")])
    password = PasswordField("Mật khẩu", validators=[DataRequired("Nhập mật khẩu.")])


def _login_page(form: LoginForm, status: int, message: str | None = None):
    return render_template("login.html", form=form, message=message), status


@blueprint.route("/login", methods=["GET", "POST"])
@reads_then_writes  # the password check is slow and reads; a re-hash is written after it
def login():
    form = LoginForm()
    if request.method == "GET":
        return _login_page(form, 200)
    if not form.validate_on_submit():
        return _login_page(form, 400)
    db = get_session()
    user = accounts.authenticate_password(db, form.username.data, form.password.data)
    if user is None:
        return _login_page(form, 401, "Sai tên đăng nhập hoặc mật khẩu")
    session.clear()  # a fresh session: nothing from before the login survives it
    session[USER_ID_KEY] = user.id
    return redirect(_local_path(request.args.get("next")))


@blueprint.post("/logout")
def logout():
    """A POST (CSRF-checked like every page form) so another site cannot log the user out."""
    session.clear()
    return redirect(url_for("auth.login"))


@blueprint.errorhandler(CSRFError)
def expired_form(error: CSRFError):
    return _login_page(LoginForm(formdata=None), 400,
                       "Biểu mẫu đã hết hạn hoặc không hợp lệ. Vui lòng thử lại.")


def _protect_pages() -> None:
    if current_app.config["WTF_CSRF_ENABLED"] and not request.path.startswith(API_PREFIX):
        csrf.protect(apply_exemptions=True)


def init_app(app: Flask) -> None:
    # The blanket check is ours so the whole /api/ tree is exempt, whichever blueprints serve it.
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_protect_pages)
    app.context_processor(lambda: {"actor": current_actor()})
    app.register_blueprint(blueprint)
