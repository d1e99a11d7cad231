"""API Bearer tokens.

A token secret is shown once and only its SHA-256 is stored: the secret
already carries 256 bits of randomness, so a fast hash loses nothing and
keeps a per-request lookup cheap.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, contains_eager

from ...db import after_read
from ...models import ApiToken, User
from ...models.base import utcnow
from .. import audit
from ..access import Actor
from ..errors import Conflict, NotFound, ValidationFailed
from ..messages import domain_term, refusal
from .remembered import forget_credentials
from .users import own_account, require_self_or_admin

TOKEN_NAME_MAX = 100
TOKEN_PREFIX = "crt_"
TOKEN_MAX_DAYS = 3650
#: The last use is recorded at most this often (TOKEN_LAST_USED_MINUTES): recording every use would turn each
#: API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)


def token_hash(raw_secret: str) -> str:
    return hashlib.sha256(raw_secret.encode()).hexdigest()


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """'active', 'revoked' or 'expired'."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def create_token(
    session: Session, actor: Actor, user: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    """A new Bearer token for `user`; the raw secret is returned once and never stored."""
    require_self_or_admin(actor, user.id, domain_term("create tokens"))
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        errors["name"] = [
            refusal("must be 1 to %(most)s characters, saying where the token is used", most=TOKEN_NAME_MAX)
        ]
    if expires_in_days is not None and not 1 <= expires_in_days <= TOKEN_MAX_DAYS:
        errors["expires_in_days"] = [
            refusal("must be between 1 and %(most)s days, or left out for no expiry", most=TOKEN_MAX_DAYS)
        ]
    if errors:
        raise ValidationFailed(refusal("the token cannot be created"), errors)
    if not user.active:
        raise Conflict(
            refusal("%(username)s is deactivated", username=user.username), {"username": [refusal("is deactivated")]}
        )

    raw_secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(
        user=user,
        name=name,
        token_hash=token_hash(raw_secret),
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
    )
    session.add(token)
    session.flush()
    audit.record(
        session,
        actor,
        "token.created",
        "api_token",
        token.id,
        to_state="active",
        details={
            "username": user.username,
            "name": name,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
    )
    return token, raw_secret


def live_token(session: Session, raw_secret: str, now: datetime | None = None) -> tuple[ApiToken, User] | None:
    """The live token with this secret and its active user, in one indexed SELECT; else None."""
    if not raw_secret.startswith(TOKEN_PREFIX):
        return None
    row = session.execute(_TOKEN_WITH_USER, {"token_hash": token_hash(raw_secret)}).first()
    if row is None:
        return None
    token, user = row
    return (token, user) if token_state(token, now) == "active" and user.active else None


#: Built once: its SQL is compiled once per engine and reused (SQLAlchemy's statement cache).
_TOKEN_WITH_USER = (
    select(ApiToken, User)
    .join(User, ApiToken.user_id == User.id)
    .where(ApiToken.token_hash == bindparam("token_hash"))
    .options(contains_eager(ApiToken.user))
)


def last_use_due(last_used_at: datetime | None, now: datetime, resolution: timedelta = LAST_USED_RESOLUTION) -> bool:
    return last_used_at is None or now - last_used_at >= resolution


def authenticate_token(session: Session, raw_secret: str, now: datetime | None = None) -> User | None:
    """The active user holding this live token, else None; its last use is written after the read (`after_read`)."""
    now = now or utcnow()
    holder = live_token(session, raw_secret, now)
    if holder is None:
        return None
    token, user = holder
    if last_use_due(token.last_used_at, now):
        after_read(session, lambda writer: stamp_last_used(writer, token.id, now))
    return user


def stamp_last_used(
    session: Session, token_id: int, now: datetime, resolution: timedelta = LAST_USED_RESOLUTION
) -> None:
    """Checked again in the write unit: of the requests that used the token at once, one writes."""
    token = session.get(ApiToken, token_id)
    if token is not None and last_use_due(token.last_used_at, now, resolution):
        token.last_used_at = now


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revocation stamps `revoked_at`; the row stays for the record."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(refusal("no token has the id %(id)s", id=token_id), {"token_id": [refusal("no such token")]})
    require_self_or_admin(actor, token.user_id, domain_term("revoke the tokens"))
    if token.revoked_at is not None:
        raise Conflict(
            refusal("token %(id)s was already revoked", id=token_id), {"token_id": [refusal("is already revoked")]}
        )
    token.revoked_at = utcnow()
    forget_credentials(session)
    audit.record(
        session,
        actor,
        "token.revoked",
        "api_token",
        token.id,
        from_state="active",
        to_state="revoked",
        details={"username": token.user.username, "name": token.name},
    )
    return token


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


def create_own_token(
    session: Session, actor: Actor, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    return create_token(session, actor, own_account(session, actor), name, expires_in_days)


def list_own_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    return list_tokens(session, own_account(session, actor))
