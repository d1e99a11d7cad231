"""Who a Bearer token or a login session is, remembered for a few seconds per process.

Every request asks; looking the token, its user and the user's reach up each
time was a third of a tile request. An answer is kept for `remember_seconds`
(AUTH_CACHE_SECONDS) in this process. A revoke, a deactivation, a password
change or a logout forgets every remembered answer of this process at once,
and again when it commits, so a request racing it cannot keep the old one;
another process goes on trusting what it remembered for at most
`remember_seconds`. A token's expiry is checked on every request.

A read never writes the token's last use in its own transaction: `record_use`
(the web layer's after-the-response write) gets it at most once per
`resolution` per process, and the write itself checks again, so the row
changes at most once per resolution.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from ...models.base import utcnow
from ..access import Actor, actor_for
from .login_sessions import session_user
from .remembered import Remembered, recall, remember
from .tokens import LAST_USED_RESOLUTION, last_use_due, live_token, stamp_last_used, token_hash

RecordUse = Callable[[Session, Callable[[Session], object]], None]


def token_actor(
    session: Session,
    raw_secret: str,
    record_use: RecordUse,
    *,
    remember_seconds: float = 0,
    resolution: timedelta = LAST_USED_RESOLUTION,
    now: datetime | None = None,
) -> Actor | None:
    """The actor of a live token of an active user, else None; its last use handed to `record_use` when due."""
    now = now or utcnow()
    key = ("token", token_hash(raw_secret))
    found = recall(key)
    if found is None or (found.expires_at is not None and found.expires_at <= now):
        holder = live_token(session, raw_secret, now)
        if holder is None:
            return None
        token, user = holder
        found = Remembered(
            actor_for(session, user),
            time.monotonic() + remember_seconds,
            token.id,
            token.expires_at,
            token.last_used_at,
        )
        if remember_seconds > 0:
            remember(key, found)
    if last_use_due(found.last_used_at, now, resolution):
        found.last_used_at = now
        token_id = found.token_id
        record_use(session, lambda writer: stamp_last_used(writer, token_id, now, resolution))
    return found.actor


def session_actor(
    session: Session, user_id: object, generation: object, login_id: object, *, remember_seconds: float = 0
) -> Actor | None:
    """The actor of a login session of the user's current generation, else None; remembered by the login's
    random `login_id` (a cookie without one is looked up every time)."""
    key = ("session", user_id, generation, login_id) if isinstance(login_id, str) else None
    found = recall(key) if key is not None else None
    if found is None:
        user = session_user(session, user_id, generation)
        if user is None:
            return None
        found = Remembered(actor_for(session, user), time.monotonic() + remember_seconds)
        if remember_seconds > 0 and key is not None:
            remember(key, found)
    return found.actor
