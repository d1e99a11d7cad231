"""Staff accounts and their API tokens.

Passwords are stored as Argon2id hashes and re-hashed at login when the
hasher's parameters change. A token secret is shown once and only its
SHA-256 is stored: the secret already carries 256 bits of randomness, so a
fast hash loses nothing and keeps a per-request lookup cheap. The caller owns
the transaction (and commits).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..db import after_read
from ..models import AdminLevel, AdminUnit, ApiToken, Role, User
from ..models.base import utcnow
from . import audit
from .access import SYSTEM, Actor
from .errors import Conflict, NotFound, PermissionDenied, ValidationFailed

MIN_PASSWORD_LENGTH = 10
USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
FULL_NAME_MAX = 200
TOKEN_NAME_MAX = 100
TOKEN_PREFIX = "crt_"
TOKEN_MAX_DAYS = 3650
# Recording every use would turn each API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=5)

#: The unit level each role must be bound to; admin may have any unit or none.
UNIT_LEVEL_OF_ROLE = {
    Role.PROVINCE_STAFF: AdminLevel.PROVINCE,
    Role.DISTRICT_STAFF: AdminLevel.DISTRICT,
    Role.COMMUNE_POLICE: AdminLevel.COMMUNE,
}

_hasher = PasswordHasher()


class DemoAccount(NamedTuple):
    username: str
    password: str
    role: str
    unit_name: str


# username, role, unit code, full name: one account per role, and police of a second commune.
DEMO_ACCOUNTS = (
    ("demo.admin", Role.ADMIN, None, "Quản trị hệ thống (demo)"),
    ("demo.hanoi", Role.PROVINCE_STAFF, "01", "Cán bộ Thành phố Hà Nội (demo)"),
    ("demo.dongda", Role.DISTRICT_STAFF, "006", "Cán bộ Quận Đống Đa (demo)"),
    ("demo.police.dongda", Role.COMMUNE_POLICE, "00226", "Công an phường Đống Đa (demo)"),
    ("demo.police.chidam", Role.COMMUNE_POLICE, "07915", "Công an xã Chí Đám (demo)"),
)


# --------------------------------------------------------------------------- passwords


def _password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so a miss costs as much as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def authenticate_password(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None; re-hashes outdated hashes."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        _password_matches(_dummy_hash(), password)
        return None
    if not _password_matches(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        new_hash, user_id = _hasher.hash(password), user.id
        after_read(session, lambda writer: setattr(writer.get(User, user_id), "password_hash", new_hash))
    return user


# --------------------------------------------------------------------------- users


def create_user(session: Session, actor: Actor, username: str, password: str, role: Role | str,
                admin_unit_code: str | None, full_name: str = "") -> User:
    """An account bound to the unit its role works in; only an administrator creates one."""
    actor.require_admin()
    errors: dict[str, list[str]] = {}
    if not USERNAME_PATTERN.fullmatch(username):
        errors["username"] = ["must be 3 to 64 characters: lowercase letters a-z, digits, '.', '_' or '-'"]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"must be at least {MIN_PASSWORD_LENGTH} characters long"]
    if len(full_name) > FULL_NAME_MAX:
        errors["full_name"] = [f"must be at most {FULL_NAME_MAX} characters"]
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = [f"{role!r} is not a role; use one of {', '.join(r.value for r in Role)}"]
    unit = _unit_for_role(session, role, admin_unit_code, errors)
    if errors:
        raise ValidationFailed("the user cannot be created", errors)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"the username {username!r} is already taken", {"username": ["is already taken"]})

    user = User(username=username, full_name=full_name.strip(), password_hash=_hasher.hash(password),
                role=role, admin_unit=unit, active=True)
    session.add(user)
    session.flush()
    audit.record(session, actor, "user.created", "user", user.id, to_state="active", details={
        "username": username, "role": role.value, "admin_unit_code": unit.code if unit else None,
    })
    return user


def _unit_for_role(session: Session, role: Role | str, code: str | None,
                   errors: dict[str, list[str]]) -> AdminUnit | None:
    """The unit named by `code`, checked against the level the role works at; reasons go into `errors`."""
    required_level = UNIT_LEVEL_OF_ROLE.get(role) if isinstance(role, Role) else None
    if not code:
        if required_level is not None:
            errors["admin_unit_code"] = [f"is required for {role.value}: the code of a {required_level.value}"]
        return None
    unit = session.scalar(select(AdminUnit).where(AdminUnit.code == code))
    if unit is None:
        errors["admin_unit_code"] = [f"no administrative unit has the code {code!r}"]
    elif required_level is not None and unit.level != required_level:
        errors["admin_unit_code"] = [
            f"{role.value} must be bound to a {required_level.value}; {code} ({unit.name}) is a {unit.level.value}"
        ]
    return unit


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user is called {username!r}", {"username": ["no such user"]})
    return user


def active_user(session: Session, user_id: int) -> User | None:
    """The user behind a login session, re-checked on every request so deactivation takes effect at once."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def list_users(session: Session, actor: Actor) -> list[User]:
    actor.require_admin()
    return list(session.scalars(select(User).order_by(User.username)))


def deactivate_user(session: Session, actor: Actor, username: str) -> User:
    """Accounts are deactivated, never deleted: the audit trail keeps pointing at them."""
    actor.require_admin()
    user = get_user(session, username)
    if not user.active:
        raise Conflict(f"{username} is already deactivated", {"username": ["is already deactivated"]})
    if actor.user_id == user.id:
        raise Conflict("an administrator cannot deactivate their own account",
                       {"username": ["is your own account"]})
    user.active = False
    audit.record(session, actor, "user.deactivated", "user", user.id, from_state="active", to_state="inactive",
                 details={"username": username})
    return user


# --------------------------------------------------------------------------- tokens


def _token_hash(raw_secret: str) -> str:
    return hashlib.sha256(raw_secret.encode()).hexdigest()


def token_state(token: ApiToken, now: datetime | None = None) -> str:
    """'active', 'revoked' or 'expired'."""
    now = now or utcnow()
    if token.revoked_at is not None:
        return "revoked"
    if token.expires_at is not None and token.expires_at <= now:
        return "expired"
    return "active"


def _require_self_or_admin(actor: Actor, user_id: int, what: str) -> None:
    if not (actor.is_admin or actor.user_id == user_id):
        raise PermissionDenied(f"{actor.label} may not {what} of another user")


def create_token(session: Session, actor: Actor, user: User, name: str,
                 expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    """A new Bearer token for `user`; the raw secret is returned once and never stored."""
    _require_self_or_admin(actor, user.id, "create tokens")
    errors: dict[str, list[str]] = {}
    name = name.strip()
    if not name or len(name) > TOKEN_NAME_MAX:
        errors["name"] = [f"must be 1 to {TOKEN_NAME_MAX} characters, saying where the token is used"]
    if expires_in_days is not None and not 1 <= expires_in_days <= TOKEN_MAX_DAYS:
        errors["expires_in_days"] = [f"must be between 1 and {TOKEN_MAX_DAYS} days, or left out for no expiry"]
    if errors:
        raise ValidationFailed("the token cannot be created", errors)
    if not user.active:
        raise Conflict(f"{user.username} is deactivated", {"username": ["is deactivated"]})

    raw_secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    token = ApiToken(user=user, name=name, token_hash=_token_hash(raw_secret), created_at=now,
                     expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None)
    session.add(token)
    session.flush()
    audit.record(session, actor, "token.created", "api_token", token.id, to_state="active", details={
        "username": user.username, "name": name,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    })
    return token, raw_secret


def authenticate_token(session: Session, raw_secret: str, now: datetime | None = None) -> User | None:
    """The active user holding this live token, else None."""
    if not raw_secret.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(raw_secret)))
    now = now or utcnow()
    if token is None or token_state(token, now) != "active" or not token.user.active:
        return None
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        after_read(session, lambda writer: _stamp_last_used(writer, token.id, now))
    return token.user


def _stamp_last_used(session: Session, token_id: int, now: datetime) -> None:
    """Checked again in the write unit: of the requests that used the token at once, one writes."""
    token = session.get(ApiToken, token_id)
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        token.last_used_at = now


def revoke_token(session: Session, actor: Actor, token_id: int) -> ApiToken:
    """Revocation stamps `revoked_at`; the row stays for the record."""
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token has the id {token_id}", {"token_id": ["no such token"]})
    _require_self_or_admin(actor, token.user_id, "revoke the tokens")
    if token.revoked_at is not None:
        raise Conflict(f"token {token_id} was already revoked", {"token_id": ["is already revoked"]})
    token.revoked_at = utcnow()
    audit.record(session, actor, "token.revoked", "api_token", token.id, from_state="active", to_state="revoked",
                 details={"username": token.user.username, "name": token.name})
    return token


def list_tokens(session: Session, user: User) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)))


# --------------------------------------------------------------------------- demo


def create_demo_accounts(session: Session) -> list[DemoAccount]:
    """One account per role on the bundled sample's units, with random passwords; none if users exist."""
    if session.scalar(select(func.count()).select_from(User)):
        return []
    accounts = []
    for username, role, unit_code, full_name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        user = create_user(session, SYSTEM, username, password, role, unit_code, full_name)
        accounts.append(DemoAccount(username, password, role.value, user.admin_unit.name if user.admin_unit else ""))
    return accounts


# --------------------------------------------------------------------------- the signed-in user's own account


def own_account(session: Session, actor: Actor) -> User:
    user = active_user(session, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound("the system actor has no account")
    return user


def create_own_token(session: Session, actor: Actor, name: str, expires_in_days: int | None = None) -> tuple[ApiToken, str]:
    return create_token(session, actor, own_account(session, actor), name, expires_in_days)


def list_own_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    return list_tokens(session, own_account(session, actor))
