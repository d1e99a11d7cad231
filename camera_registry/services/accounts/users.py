"""Staff accounts: each bound to the unit or supervision group its role works in, deactivated but never deleted.

A new account is bound only to a unit in force today or to an open supervision group: a closed unit (a
pre-reform district) or a closed group is refused, naming the field. Supervision groups bind staff of the
district_staff role, who since the 2025 reform oversee a group of communes rather than a district.
"""

from __future__ import annotations

import re
import secrets
from typing import NamedTuple

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from ...models import AdminLevel, AdminUnit, Role, SupervisionGroup, User
from ...timezones import local_today
from .. import audit, supervision
from ..access import SYSTEM, Actor
from ..errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from ..messages import domain_term, refusal
from ..records import unit_on
from .passwords import hash_password, password_matches, password_problems
from .remembered import forget_credentials

USERNAME_PATTERN = re.compile(r"[a-z0-9._-]{3,64}")
FULL_NAME_MAX = 200

#: The unit level each role must be bound to; admin may have any unit or none.
UNIT_LEVEL_OF_ROLE = {
    Role.PROVINCE_STAFF: AdminLevel.PROVINCE,
    Role.DISTRICT_STAFF: AdminLevel.DISTRICT,
    Role.COMMUNE_POLICE: AdminLevel.COMMUNE,
}


class DemoAccount(NamedTuple):
    username: str
    password: str
    role: str
    unit_name: str


# username, role, unit or supervision group code, full name: one account per role, police of a second commune.
DEMO_ACCOUNTS = (
    ("demo.admin", Role.ADMIN, None, "Quản trị hệ thống (demo)"),
    ("demo.hanoi", Role.PROVINCE_STAFF, "01", "Cán bộ Thành phố Hà Nội (demo)"),
    ("demo.cumtrungtam", Role.DISTRICT_STAFF, "HN-TT", "Cán bộ giám sát Cụm phường trung tâm (demo)"),
    ("demo.police.dongda", Role.COMMUNE_POLICE, "00235", "Công an phường Đống Đa (demo)"),
    ("demo.police.chidam", Role.COMMUNE_POLICE, "07999", "Công an xã Chí Đám (demo)"),
)
#: The demo supervision group: code, name, province, communes (Ba Đình, Hoàn Kiếm, Văn Miếu - Quốc Tử Giám,
#: Đống Đa, Bạch Mai).
DEMO_GROUP = ("HN-TT", "Cụm phường trung tâm", "01", ("00004", "00070", "00226", "00235", "00292"))


def create_user(
    session: Session,
    actor: Actor,
    username: str,
    password: str,
    role: Role | str,
    admin_unit_code: str | None,
    full_name: str = "",
    group_code: str | None = None,
) -> User:
    """An account bound to the unit its role works in, or (district_staff) to a supervision group; only an
    administrator creates one."""
    actor.require_admin()
    errors: dict[str, list[str]] = {}
    if not USERNAME_PATTERN.fullmatch(username):
        errors["username"] = [refusal("must be 3 to 64 characters: lowercase letters a-z, digits, '.', '_' or '-'")]
    if problems := password_problems(password, username, full_name):
        errors["password"] = problems
    if len(full_name) > FULL_NAME_MAX:
        errors["full_name"] = [refusal("must be at most %(most)s characters", most=FULL_NAME_MAX)]
    role, unit, group = role_binding(session, role, admin_unit_code, group_code, errors)
    if errors:
        raise ValidationFailed(refusal("the user cannot be created"), errors)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(
            refusal("the username %(username)s is already taken", username=repr(username)),
            {"username": [refusal("is already taken")]},
        )

    user = User(
        username=username,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        role=role,
        admin_unit=unit,
        supervision_group=group,
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
            **({"supervision_group_code": group.code} if group else {}),
        },
    )
    return user


def role_binding(
    session: Session,
    role: Role | str,
    admin_unit_code: str | None,
    group_code: str | None,
    errors: dict[str, list[str]],
) -> tuple[Role | str, AdminUnit | None, SupervisionGroup | None]:
    """The role, and the unit or (district_staff) supervision group it is bound to, each checked; reasons go
    into `errors`, naming the field."""
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = [
            refusal(
                "%(role)s is not a role; use one of %(roles)s", role=repr(role), roles=", ".join(r.value for r in Role)
            )
        ]
    group = _group_for_role(session, role, group_code, admin_unit_code, errors) if group_code else None
    unit = None if group_code else _unit_for_role(session, role, admin_unit_code, errors)
    return role, unit, group


def _unit_for_role(
    session: Session, role: Role | str, code: str | None, errors: dict[str, list[str]]
) -> AdminUnit | None:
    """The unit named by `code`, checked against the level the role works at; reasons go into `errors`."""
    required_level = UNIT_LEVEL_OF_ROLE.get(role) if isinstance(role, Role) else None
    if not code:
        if role == Role.DISTRICT_STAFF:
            errors["group_code"] = [
                refusal("is required for %(role)s: the code of a supervision group", role=domain_term(role.value))
            ]
        elif required_level is not None:
            errors["admin_unit_code"] = [
                refusal(
                    "is required for %(role)s: the code of a %(level)s",
                    role=domain_term(role.value),
                    level=domain_term(required_level.value),
                )
            ]
        return None
    today = local_today()
    unit = unit_on(session, code, today)  # in force today, else its latest version, for the refusal to name
    if unit is None:
        errors["admin_unit_code"] = [refusal("no administrative unit has the code %(code)s", code=repr(code))]
    elif not unit.valid_on(today):
        errors["admin_unit_code"] = [
            refusal(
                "%(code)s (%(name)s) is closed or not yet in force; bind the account to a unit in force today",
                code=code,
                name=unit.name,
            )
        ]
    elif required_level is not None and unit.level != required_level:
        errors["admin_unit_code"] = [
            refusal(
                "%(role)s must be bound to a %(level)s; %(code)s (%(name)s) is a %(actual)s",
                role=domain_term(role.value),
                level=domain_term(required_level.value),
                code=code,
                name=unit.name,
                actual=domain_term(unit.level.value),
            )
        ]
    return unit


def _group_for_role(
    session: Session, role: Role | str, code: str, unit_code: str | None, errors: dict[str, list[str]]
) -> SupervisionGroup | None:
    """The open supervision group `code`, for district_staff without a unit; reasons go into `errors`."""
    if role != Role.DISTRICT_STAFF:
        errors["group_code"] = [
            refusal("only %(role)s is bound to a supervision group", role=domain_term(Role.DISTRICT_STAFF.value))
        ]
    if unit_code:
        errors["admin_unit_code"] = [refusal("give a unit or a supervision group, not both")]
    if reason := supervision.group_refusal(session, code):
        errors["group_code"] = [reason]
        return None
    return supervision.open_version(session, code)


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(
            refusal("no user is called %(username)s", username=repr(username)), {"username": [refusal("no such user")]}
        )
    return user


def active_user(session: Session, user_id: int) -> User | None:
    """The user with this id, if the account is active."""
    user = session.get(User, user_id)
    return user if user is not None and user.active else None


def own_account(session: Session, actor: Actor) -> User:
    user = active_user(session, actor.user_id) if actor.user_id is not None else None
    if user is None:
        raise NotFound(refusal("the system actor has no account"))
    return user


def new_session_generation(user: User) -> None:
    """End every login session of the user (a session holds only for the generation it began in), and forget
    the remembered credentials: deactivation and a password change end the user's tokens' answers too."""
    user.session_generation = (user.session_generation or 0) + 1
    forget_credentials(object_session(user))


def require_self_or_admin(actor: Actor, user_id: int, what: str) -> None:
    if not (actor.is_admin or actor.user_id == user_id):
        raise PermissionDenied(refusal("%(actor)s may not %(what)s of another user", actor=actor.name, what=what))


def list_users(session: Session, actor: Actor) -> list[User]:
    actor.require_admin()
    return list(session.scalars(select(User).order_by(User.username)))


def deactivate_user(session: Session, actor: Actor, username: str) -> User:
    """Accounts are deactivated, never deleted: the audit trail keeps pointing at them."""
    actor.require_admin()
    user = get_user(session, username)
    if not user.active:
        raise Conflict(
            refusal("%(username)s is already deactivated", username=username),
            {"username": [refusal("is already deactivated")]},
        )
    if actor.user_id == user.id:
        raise Conflict(
            refusal("an administrator cannot deactivate their own account"),
            {"username": [refusal("is your own account")]},
        )
    user.active = False
    new_session_generation(user)  # reactivating the account later must not revive a cookie
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
    require_self_or_admin(actor, user.id, domain_term("change the password"))
    own = actor.user_id == user.id
    if (own or not actor.is_admin) and (
        current_password is None or not password_matches(user.password_hash, current_password)
    ):
        raise ValidationFailed(
            refusal("the current password is wrong"),
            {"current_password": [refusal("is not your current password")]},
        )
    if problems := password_problems(new_password, user.username, user.full_name):
        raise ValidationFailed(refusal("the password cannot be used"), {"password": problems})
    user.password_hash = hash_password(new_password)
    new_session_generation(user)
    audit.record(
        session,
        actor,
        "user.password_changed",
        "user",
        user.id,
        details={"username": user.username, "reset_by_admin": actor.user_id != user.id},
    )
    return user


def create_demo_accounts(session: Session) -> list[DemoAccount]:
    """One account per role on the bundled sample's units and the demo supervision group (created if missing),
    with random passwords; none if users exist."""
    if session.scalar(select(func.count()).select_from(User)):
        return []
    code, name, province_code, commune_codes = DEMO_GROUP
    if supervision.open_version(session, code) is None:
        supervision.create_group(
            session, SYSTEM, code=code, name=name, province_code=province_code, commune_codes=commune_codes
        )
    accounts = []
    for username, role, binding, full_name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        by_group = role == Role.DISTRICT_STAFF
        user = create_user(
            session,
            SYSTEM,
            username,
            password,
            role,
            None if by_group else binding,
            full_name,
            group_code=binding if by_group else None,
        )
        where = user.supervision_group or user.admin_unit
        accounts.append(DemoAccount(username, password, role.value, where.name if where else ""))
    return accounts
