"""What an administrator does to other accounts besides creating and deactivating them: find them, bind them
to another role, unit or supervision group, reset their passwords, and read when each last signed in.

The caller owns the transaction (and commits), as for the rest of `accounts`.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ...models import AdminUnit, ApiToken, AuditEvent, Role, SupervisionGroup, User
from .. import audit
from ..access import Actor
from ..errors import Conflict, NotFound, ValidationFailed
from ..messages import refusal
from .passwords import password_problems
from .remembered import forget_credentials
from .users import change_password, get_user, role_binding

#: The length of a generated password, in token_urlsafe bytes: 15 bytes are 20 characters, 120 random bits.
GENERATED_PASSWORD_BYTES = 15


def find_users(
    session: Session,
    actor: Actor,
    *,
    role: Role | None = None,
    binding_code: str | None = None,
    active: bool | None = None,
) -> list[User]:
    """Accounts by username, narrowed to a role, to the unit or supervision group code they are bound to, and to
    active or deactivated ones (admin)."""
    actor.require_admin()
    query = (
        select(User)
        .outerjoin(AdminUnit, User.admin_unit_id == AdminUnit.id)
        .outerjoin(SupervisionGroup, User.supervision_group_id == SupervisionGroup.id)
        .order_by(User.username)
    )
    if role is not None:
        query = query.where(User.role == role)
    if binding_code:
        query = query.where(or_(AdminUnit.code == binding_code, SupervisionGroup.code == binding_code))
    if active is not None:
        query = query.where(User.active.is_(active))
    return list(session.scalars(query))


def last_sign_ins(session: Session, actor: Actor, user_ids: list[int]) -> dict[int, datetime]:
    """When each of these users last signed in on the login page, as the audit trail recorded it (admin)."""
    actor.require_admin()
    if not user_ids:
        return {}
    rows = session.execute(
        select(AuditEvent.entity_id, func.max(AuditEvent.occurred_at))
        .where(
            AuditEvent.action == "user.login",
            AuditEvent.entity_type == "user",
            AuditEvent.entity_id.in_([str(user_id) for user_id in user_ids]),
        )
        .group_by(AuditEvent.entity_id)
    )
    return {int(entity_id): at for entity_id, at in rows}


def rebind_user(
    session: Session,
    actor: Actor,
    username: str,
    role: Role | str,
    admin_unit_code: str | None = None,
    group_code: str | None = None,
) -> User:
    """Give an account another role, unit or supervision group, checked as a new account's are (admin).

    The new reach holds from the next request: what was remembered of the account's credentials is forgotten.
    An administrator cannot change their own role or binding (another admin must), so no one locks the last
    administrator out by mistake."""
    user = _another_account(
        session,
        actor,
        username,
        Conflict(
            refusal("an administrator cannot change their own role or binding"),
            {"role": [refusal("is your own account's role: another administrator changes it")]},
        ),
    )
    errors: dict[str, list[str]] = {}
    role, unit, group = role_binding(session, role, admin_unit_code, group_code, errors)
    if errors:
        raise ValidationFailed(refusal("the account cannot be bound so"), errors)
    before = _binding_of(user)
    user.role, user.admin_unit, user.supervision_group = role, unit, group
    after = _binding_of(user)
    if after == before:
        return user
    forget_credentials(session)
    audit.record(
        session, actor, "user.rebound", "user", user.id, details={"username": username, "from": before, "to": after}
    )
    return user


def _another_account(session: Session, actor: Actor, username: str, own_refused: Conflict) -> User:
    """The account an administrator acts on, which must not be their own (`own_refused` says why)."""
    actor.require_admin()
    user = get_user(session, username)
    if actor.user_id == user.id:
        raise own_refused
    return user


def _binding_of(user: User) -> dict[str, str | None]:
    return {
        "role": user.role.value,
        "admin_unit_code": user.admin_unit.code if user.admin_unit else None,
        "supervision_group_code": user.supervision_group.code if user.supervision_group else None,
    }


def generated_password(username: str, full_name: str = "") -> str:
    """A random password the policy takes, for an administrator to hand over once."""
    while True:
        password = secrets.token_urlsafe(GENERATED_PASSWORD_BYTES)
        if not password_problems(password, username, full_name):
            return password


def reset_password(
    session: Session, actor: Actor, username: str, new_password: str | None = None
) -> tuple[User, str | None]:
    """Set another account's password, the one typed (checked by the password policy) or, when None, a generated
    one, returned to be shown once (admin). Every login session of the user ends; its tokens stay.

    Administrators change their own password with their current one, never by a reset."""
    user = _another_account(
        session,
        actor,
        username,
        Conflict(
            refusal("an administrator changes their own password with the current one, not by a reset"),
            {"username": [refusal("is your own account: change its password with the current one")]},
        ),
    )
    generated = generated_password(user.username, user.full_name) if new_password is None else None
    change_password(session, actor, username, generated or new_password)
    return user, generated


def user_token(session: Session, actor: Actor, username: str, token_id: int) -> ApiToken:
    """One of this user's tokens (admin); another user's token is not found here."""
    actor.require_admin()
    user = get_user(session, username)
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound(
            refusal("%(username)s has no token with the id %(token_id)s", username=username, token_id=token_id),
            {"token_id": [refusal("no such token")]},
        )
    return token
