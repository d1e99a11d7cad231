"""Login sessions: the user behind a session cookie, logging out everywhere, and the audit of sign-ins."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import User
from .. import audit
from ..access import Actor
from ..errors import NotFound
from ..messages import domain_term, refusal
from .users import active_user, new_session_generation, require_self_or_admin

#: Names a refused sign-in in the audit trail; it is never given to a service as the one acting.
_SIGN_IN_ATTEMPT = Actor(label="anonymous", readable_communes=frozenset(), writable_communes=frozenset())


def session_user(session: Session, user_id: object, generation: object) -> User | None:
    """The user behind a login session, re-checked on every request: the account must be active and the
    session of its current generation (logout, deactivation and a password change start a new one)."""
    if not isinstance(user_id, int) or not isinstance(generation, int):
        return None
    user = active_user(session, user_id)
    return user if user is not None and user.session_generation == generation else None


def end_sessions(session: Session, actor: Actor, user_id: int) -> User:
    """End every login session of the user (logout: on every device). Audited."""
    require_self_or_admin(actor, user_id, domain_term("end the sessions"))
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(refusal("no user has the id %(id)s", id=user_id), {"user_id": [refusal("no such user")]})
    new_session_generation(user)
    audit.record(session, actor, "user.signed_out", "user", user.id, details={"username": user.username})
    return user


def record_login(session: Session, username: str, address: str, user_id: int | None) -> None:
    """Audit one sign-in: `user_id` is the user who signed in, None for a refused attempt.

    A refused attempt names the account only when one has that username: what was typed in the username
    field of an unknown one may be somebody's password."""
    details: dict = {"address": address}
    if user_id is not None:
        user = session.get(User, user_id)
        audit.record(
            session,
            Actor(f"{user.role.value}:{user.username}", user.role, user.id, user.admin_unit_id),
            "user.login",
            "user",
            user.id,
            details={**details, "username": user.username},
        )
        return
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        details["reason"] = "unknown username"
    else:
        details.update(username=user.username, reason="wrong password" if user.active else "account deactivated")
    audit.record(session, _SIGN_IN_ATTEMPT, "user.login_failed", "user", user.id if user else None, details=details)
