"""Who is asking: a Bearer token or the login session, and the CSRF check for cookie-authenticated writes.

The login session is Flask's signed cookie holding the user's id, the user's
session generation, the login time and the time of the last request. It is
refused when the generation is no longer the user's (logout, deactivation and
a password change bump it, in the database, so every worker refuses it at
once), after SESSION_IDLE_MINUTES without a request and SESSION_ABSOLUTE_HOURS
after the login. The idle clock is refreshed in the cookie itself, so no
request writes to the database to stay signed in.

A Bearer request cannot be forged cross-site; one authenticated by the cookie
can, so its writes need the X-CSRFToken header (`require_csrf_for_cookie_auth`).
"""

from __future__ import annotations

import time

from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFProtect

from ..services import accounts
from ..services.access import Actor, actor_for
from .units import get_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
USER_ID_KEY = "user_id"
GENERATION_KEY = "generation"
LOGIN_AT_KEY = "login_at"
SEEN_AT_KEY = "seen_at"
#: The idle clock in the cookie moves on at most this often, so a page's many requests do not each re-send it.
SEEN_RESOLUTION_SECONDS = 60

csrf = CSRFProtect()


def bearer_secret() -> str | None:
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
    secret = bearer_secret()
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


def start_session(user: accounts.User) -> None:
    """Sign `user` in on this browser: a login session of its own, begun now."""
    session.clear()  # a fresh session: nothing from before the login survives it
    now = int(time.time())
    session.update({USER_ID_KEY: user.id, GENERATION_KEY: user.session_generation, LOGIN_AT_KEY: now, SEEN_AT_KEY: now})


def keep_own_session(user: accounts.User) -> None:
    """After the user's sessions were ended by their own password change: this request's login session, when it
    is one, carries on under the new generation; every other session (other devices, copied cookies) stays ended."""
    if bearer_secret() is None and session.get(USER_ID_KEY) == user.id:
        session[GENERATION_KEY] = user.session_generation


def require_csrf_for_cookie_auth() -> None:
    """Refuse (400) an unsafe request authenticated by the session cookie without a valid X-CSRFToken header."""
    if (
        request.method in SAFE_METHODS
        or bearer_secret() is not None
        or USER_ID_KEY not in session
        or not current_app.config["WTF_CSRF_ENABLED"]
    ):
        return
    csrf.protect()
