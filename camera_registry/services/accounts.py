"""Staff accounts and their API tokens.

Passwords are stored as Argon2id hashes and re-hashed at login when the
hasher's parameters change. A new password is refused when it is easy to
guess (NIST SP 800-63B, 3.1.1.2): at least 10 characters, and not a common
password, a repeat or a sequence of characters, a keyboard row, a date or the
account's own name; zxcvbn (its lists of 30,000 common passwords and of
words, and its pattern matchers) tells which. A token secret is shown once and only its
SHA-256 is stored: the secret already carries 256 bits of randomness, so a
fast hash loses nothing and keeps a per-request lookup cheap. The caller owns
the transaction (and commits).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import datetime, timedelta
from functools import cache
from typing import NamedTuple

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from ..db import after_read
from ..models import AdminLevel, AdminUnit, ApiToken, Role, User
from ..models.base import utcnow
from . import audit
from .access import SYSTEM, Actor
from .errors import Conflict, NotFound, PermissionDenied, ValidationFailed

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # NIST asks for at least 64; Argon2 takes any length
#: zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable", about 10^8 guesses or more.
MIN_PASSWORD_SCORE = 3
#: zxcvbn reads the first characters only (its matching grows fast with length); longer passwords are not weaker.
PASSWORD_SCORED_CHARACTERS = 64
#: Words anyone would try first against this service (NIST: "context-specific words").
SERVICE_WORDS = (
    "camera",
    "camera an ninh",
    "cameraanninh",
    "anninh",
    "an ninh",
    "congan",
    "công an",
    "matkhau",
    "mật khẩu",
    "registry",
    "admin",
    "quantri",
    "quản trị",
)
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
#: Names a refused sign-in in the audit trail; it is never given to a service as the one acting.
_SIGN_IN_ATTEMPT = Actor(label="anonymous", readable_communes=frozenset(), writable_communes=frozenset())


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


#: Why a guessable password is refused, by the kind of zxcvbn match that made it guessable.
_WEAKNESS_REASONS = (
    (
        lambda m: m.get("dictionary_name") == "user_inputs",
        "must not be built from the username, the person's name or the name of this service",
    ),
    (lambda m: m.get("dictionary_name") == "passwords" and m["whole"], "is one of the most commonly used passwords"),
    (lambda m: m["pattern"] == "repeat", "repeats the same characters (like 'aaaa' or 'abcabc')"),
    (lambda m: m["pattern"] == "sequence", "is a sequence of characters (like 'abcdef' or '123456')"),
    (lambda m: m["pattern"] == "spatial", "is a row of keys on the keyboard (like 'qwerty' or 'asdfgh')"),
    (lambda m: m["pattern"] == "date", "is mostly a date"),
    (lambda m: m["pattern"] == "dictionary", "is a common password or word with little added to it"),
)
_GUESSABLE = "is too easy to guess: use a longer phrase of several uncommon words"
_zxcvbn_lock = threading.Lock()  # zxcvbn keeps the user inputs in a module-level dictionary


def password_problems(password: str, username: str = "", full_name: str = "") -> list[str]:
    """Why `password` may not be used (empty when it may), as reasons for the `password` field."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [f"must be at least {MIN_PASSWORD_LENGTH} characters long"]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [f"must be at most {MAX_PASSWORD_LENGTH} characters long"]
    own_names = [
        name for name in (username, *re.split(r"[\s._-]+", username), full_name, *full_name.split()) if len(name) >= 3
    ]
    folded = password.casefold()
    if any(name.casefold() in folded for name in (username, full_name) if len(name) >= 3):
        return ["must not contain the username or the person's name"]
    with _zxcvbn_lock:
        result = zxcvbn(password[:PASSWORD_SCORED_CHARACTERS], user_inputs=[*own_names, *SERVICE_WORDS])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return []
    # The reason is the longest guessable part zxcvbn found (a user input wins, being the most specific).
    scored = password[:PASSWORD_SCORED_CHARACTERS]
    matches = sorted(
        ({**m, "whole": m["token"] == scored} for m in result["sequence"] if m["pattern"] != "bruteforce"),
        key=lambda m: (m.get("dictionary_name") != "user_inputs", -len(m["token"])),
    )
    for match in matches:
        for is_weakness, reason in _WEAKNESS_REASONS:
            if is_weakness(match):
                return [reason]
    return [_GUESSABLE]


# --------------------------------------------------------------------------- users


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    admin_unit_code: str | None,
    full_name: str = "",
) -> User:
    """An account bound to the unit its role works in; only an administrator creates one."""
    actor.require_admin()
    errors: dict[str, list[str]] = {}
    if not USERNAME_PATTERN.fullmatch(username):
        errors["username"] = ["must be 3 to 64 characters: lowercase letters a-z, digits, '.', '_' or '-'"]
    if problems := password_problems(password, username, full_name):
        errors["password"] = problems
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

    user = User(
        username=username,
        full_name=full_name.strip(),
        password_hash=_hasher.hash(password),
        role=role,
        admin_unit=unit,
        active=True,
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor,
        "user.created",
        "user",
        user.id,
        to_state="active",
        details={
            "username": username,
            "role": role.value,
            "admin_unit_code": unit.code if unit else None,
        },
    )
    return user


def _unit_for_role(
    session: Session, role: Role | str, code: str | None, errors: dict[str, list[str]]
) -> AdminUnit | None:
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
    """The user with this id, if the account is active."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def session_user(session: Session, user_id: object, generation: object) -> User | None:
    """The user behind a login session, re-checked on every request: the account must be active and the
    session of its current generation (logout, deactivation and a password change start a new one)."""
    if not isinstance(user_id, int) or not isinstance(generation, int):
        return None
    user = active_user(session, user_id)
    return user if user is not None and user.session_generation == generation else None


def _end_sessions(user: User) -> None:
    user.session_generation = (user.session_generation or 0) + 1


def end_sessions(session: Session, actor: Actor, user_id: int) -> User:
    """End every login session of the user (logout: on every device). Audited."""
    _require_self_or_admin(actor, user_id, "end the sessions")
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"no user has the id {user_id}", {"user_id": ["no such user"]})
    _end_sessions(user)
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
        raise Conflict("an administrator cannot deactivate their own account", {"username": ["is your own account"]})
    user.active = False
    _end_sessions(user)  # reactivating the account later must not revive a cookie
    audit.record(
        session,
        actor,
        "user.deactivated",
        "user",
        user.id,
        from_state="active",
        to_state="inactive",
        details={"username": username},
    )
    return user


def change_password(
    session: Session, actor: Actor, username: str, new_password: str, current_password: str | None = None
) -> User:
    """Set a new password: the user, who must give the current one (an administrator too, for their own), or an
    administrator or the system for another account (a reset).

    Every login session of the user ends. Audited, never with a password."""
    user = get_user(session, username)
    _require_self_or_admin(actor, user.id, "change the password")
    own = actor.user_id == user.id
    if (own or not actor.is_admin) and (
        current_password is None or not _password_matches(user.password_hash, current_password)
    ):
        raise ValidationFailed("the current password is wrong", {"current_password": ["is not your current password"]})
    if problems := password_problems(new_password, user.username, user.full_name):
        raise ValidationFailed("the password cannot be used", {"password": problems})
    user.password_hash = _hasher.hash(new_password)
    _end_sessions(user)
    audit.record(
        session,
        actor,
        "user.password_changed",
        "user",
        user.id,
        details={"username": user.username, "reset_by_admin": actor.user_id != user.id},
    )
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


def create_token(
    session: Session, actor: Actor, user: User, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
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
    token = ApiToken(
        user=user,
        name=name,
        token_hash=_token_hash(raw_secret),
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


def create_own_token(
    session: Session, actor: Actor, name: str, expires_in_days: int | None = None
) -> tuple[ApiToken, str]:
    return create_token(session, actor, own_account(session, actor), name, expires_in_days)


def list_own_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    return list_tokens(session, own_account(session, actor))
