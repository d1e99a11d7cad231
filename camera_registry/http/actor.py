"""Who is asking: a Bearer token or the login session, and the CSRF check for cookie-authenticated writes.

The login session is Flask's signed cookie holding the user's id, the user's
session generation, the login time and the time of the last request. It is
refused when the generation is no longer the user's (logout, deactivation and
a password change bump it, in the database, so every worker refuses it at
once), after SESSION_IDLE_MINUTES without a request and SESSION_ABSOLUTE_HOURS
after the login. The idle clock is refreshed in the cookie itself, so no
request writes to the database to stay signed in.

Who a token or a session is, is remembered for AUTH_CACHE_SECONDS per
process (services/accounts/credentials.py says what that costs a revoke); a
token's last use is written after the response, at most once per
TOKEN_LAST_USED_MINUTES (`units.after_response`).

A Bearer request cannot be forged cross-site; one authenticated by the cookie
can, so its writes need the X-CSRFToken header (`require_csrf_for_cookie_auth`).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

from flask import current_app, g, request, session
from flask_wtf.csrf import CSRFProtect

from ..services import accounts
from ..services.access import Actor
from .units import after_response, get_session

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
USER_ID_KEY = "user_id"
GENERATION_KEY = "generation"
LOGIN_AT_KEY = "login_at"
SEEN_AT_KEY = "seen_at"
#: A random name of this login, so what is remembered of one session is never taken for another's.
LOGIN_ID_KEY = "login_id"
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
    secret = bearer_secret()
    config = current_app.config
    if secret is not None:
        # A request that presents a token stands or falls by it; the cookie is not consulted.
        return accounts.token_actor(
            get_session(),
            secret,
            after_response,
            remember_seconds=config["AUTH_CACHE_SECONDS"],
            resolution=timedelta(minutes=config["TOKEN_LAST_USED_MINUTES"]),
        )
    if USER_ID_KEY in session:
        return _session_actor()
    return None


def _session_actor() -> Actor | None:
    """The actor of a live login session; a session that has ended is cleared, so its cookie is dropped."""
    now = time.time()
    login_at, seen_at = session.get(LOGIN_AT_KEY), session.get(SEEN_AT_KEY)
    config = current_app.config
    live = (
        isinstance(login_at, (int, float))
        and isinstance(seen_at, (int, float))
        and now - login_at < config["SESSION_ABSOLUTE_HOURS"] * 3600
        and now - seen_at < config["SESSION_IDLE_MINUTES"] * 60
    )
    actor = (
        accounts.session_actor(
            get_session(),
            session[USER_ID_KEY],
            session.get(GENERATION_KEY),
            session.get(LOGIN_ID_KEY),
            remember_seconds=config["AUTH_CACHE_SECONDS"],
        )
        if live
        else None
    )
    if actor is None:
        session.clear()
        return None
    if now - seen_at >= SEEN_RESOLUTION_SECONDS:
        session[SEEN_AT_KEY] = int(now)
    return actor


def start_session(user: accounts.User) -> None:
    """Sign `user` in on this browser: a login session of its own, begun now."""
    session.clear()  # a fresh session: nothing from before the login survives it
    now = int(time.time())
    session.update(
        {
            USER_ID_KEY: user.id,
            GENERATION_KEY: user.session_generation,
            LOGIN_AT_KEY: now,
            SEEN_AT_KEY: now,
            LOGIN_ID_KEY: secrets.token_urlsafe(12),
        }
    )


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
