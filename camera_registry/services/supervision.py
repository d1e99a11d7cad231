"""Supervision groups: the named sets of communes that staff oversee now that the 2025 reform removed districts.

An administrator defines a group (a code, a name, a province and current communes of that province). A group
is versioned like the units: changing its communes closes the current version on the effective date and opens
the next under the same code, and a closed version is never rewritten, so a past period's figures can be read
with the group as it was. Staff bound to a group follow it to each new version. When an edition of the units
closes communes, `carry_groups_over` puts each closed commune's successors in its place.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AdminLevel, AdminUnit, SupervisionGroup, User, supervision_group_communes
from ..timezones import local_today
from .access import SYSTEM, Actor, subtree_ids
from .accounts.remembered import forget_credentials
from .audit import record
from .errors import Conflict, NotFound, ValidationFailed
from .messages import Message, domain_term, refusal
from .records import flush, unit_on

GROUP_CODE_MAX = 32
GROUP_NAME_MAX = 200


@dataclass(frozen=True)
class CarriedGroup:
    """One group an edition touched: which closed communes were replaced by which successors (codes), and how
    many staff accounts followed the group to its new version."""

    code: str
    replaced: dict[str, list[str]]
    users: int


def _unit_in_force(session: Session, code: str, day: date) -> AdminUnit | None:
    """The version of the unit `code` in force on `day`, or None: a code names several versions over time."""
    unit = unit_on(session, code, day)
    return unit if unit is not None and unit.valid_on(day) else None


def list_groups(session: Session, on: date | None = None, province_code: str | None = None) -> list[SupervisionGroup]:
    """The groups in force on `on` (today by default), by code."""
    on = on or local_today()
    statement = select(SupervisionGroup).where(SupervisionGroup.valid_on(on)).order_by(SupervisionGroup.code)
    if province_code is not None:
        statement = statement.join(SupervisionGroup.province).where(AdminUnit.code == province_code)
    return list(session.scalars(statement))


def get_group(session: Session, code: str, on: date | None = None) -> SupervisionGroup:
    """The version of group `code` in force on `on` (today by default)."""
    group = session.scalar(
        select(SupervisionGroup).where(SupervisionGroup.code == code, SupervisionGroup.valid_on(on or local_today()))
    )
    if group is None:
        raise NotFound(
            refusal(
                "no supervision group %(code)s is in force on %(day)s",
                code=repr(code),
                day=(on or local_today()).isoformat(),
            )
        )
    return group


def open_version(session: Session, code: str) -> SupervisionGroup | None:
    """The open-ended (latest, not closed) version of group `code`: the only one that may change or take staff."""
    return session.scalar(
        select(SupervisionGroup).where(SupervisionGroup.code == code, SupervisionGroup.valid_to.is_(None))
    )


def group_refusal(session: Session, code: str) -> Message | None:
    """Why group `code` cannot change or take staff (closed, or unknown), or None when its open version can."""
    if open_version(session, code) is not None:
        return None
    if _known(session, code):
        return refusal("supervision group %(code)s is closed", code=repr(code))
    return refusal("supervision group %(code)s does not exist", code=repr(code))


def _known(session: Session, code: str) -> bool:
    return session.scalar(select(SupervisionGroup.id).where(SupervisionGroup.code == code)) is not None


def open_group(session: Session, code: str, field: str = "code") -> SupervisionGroup:
    """The open version of group `code`; a closed group is a Conflict, an unknown one NotFound."""
    group = open_version(session, code)
    if group is None:
        reason = group_refusal(session, code)
        raise (Conflict if _known(session, code) else NotFound)(reason, {field: [reason]})
    return group


def create_group(
    session: Session,
    actor: Actor,
    *,
    code: str,
    name: str,
    province_code: str,
    commune_codes: Sequence[str],
    valid_from: date | None = None,
) -> SupervisionGroup:
    """A new group of current communes of one province, in force from `valid_from` (today by default)."""
    actor.require_admin()
    valid_from = valid_from or local_today()
    code, name = code.strip(), name.strip()
    errors: dict[str, list[str]] = {}
    if not code or len(code) > GROUP_CODE_MAX:
        errors["code"] = [refusal("must be 1 to %(most)s characters", most=GROUP_CODE_MAX)]
    elif _known(session, code):
        raise Conflict(
            refusal("the supervision group code %(code)s is already used", code=repr(code)),
            {"code": [refusal("is already used")]},
        )
    if not name or len(name) > GROUP_NAME_MAX:
        errors["name"] = [refusal("must be 1 to %(most)s characters", most=GROUP_NAME_MAX)]
    province = _unit_in_force(session, province_code, valid_from)
    if province is None or province.level != AdminLevel.PROVINCE:
        errors["province_code"] = [
            refusal(
                "%(code)s is not a province in force on %(day)s", code=repr(province_code), day=valid_from.isoformat()
            )
        ]
        communes = []
    else:
        communes = _communes_of(session, province, commune_codes, valid_from, errors)
    if errors:
        raise ValidationFailed(refusal("the supervision group cannot be created"), errors)
    group = SupervisionGroup(code=code, name=name, province=province, communes=communes, valid_from=valid_from)
    session.add(group)
    flush(session, "supervision_group")
    record(
        session,
        actor,
        "supervision_group.create",
        "supervision_group",
        group.id,
        details={"code": code, "province_code": province.code, "commune_codes": [c.code for c in communes]},
    )
    return group


def _communes_of(
    session: Session, province: AdminUnit, codes: Iterable[str], day: date, errors: dict[str, list[str]]
) -> list[AdminUnit]:
    """The communes named by `codes`, each in force on `day` under `province`; reasons go into `errors`."""
    codes = list(dict.fromkeys(code.strip() for code in codes if code.strip()))
    if not codes:
        errors["commune_codes"] = [refusal("name at least one commune")]
        return []
    in_province = subtree_ids(session, province.id)
    communes, problems = [], []
    for code in codes:
        unit = _unit_in_force(session, code, day)
        if unit is None:
            problems.append(
                refusal("%(code)s: no unit with this code is in force on %(day)s", code=code, day=day.isoformat())
            )
        elif unit.level != AdminLevel.COMMUNE:
            problems.append(
                refusal(
                    "%(code)s: %(name)s is a %(level)s, not a commune",
                    code=code,
                    name=unit.name,
                    level=domain_term(unit.level.value),
                )
            )
        elif unit.id not in in_province:
            problems.append(
                refusal("%(code)s: %(name)s is not in %(province)s", code=code, name=unit.name, province=province.name)
            )
        else:
            communes.append(unit)
    if problems:
        errors["commune_codes"] = problems
    return communes


def set_group_communes(
    session: Session, actor: Actor, code: str, commune_codes: Sequence[str], effective: date | None = None
) -> SupervisionGroup:
    """The group's next version with these communes, from `effective` (today by default); the current version
    closes that day, unchanged."""
    actor.require_admin()
    effective = effective or local_today()
    group = open_group(session, code)
    _require_after_start(group, effective)
    errors: dict[str, list[str]] = {}
    communes = _communes_of(session, group.province, commune_codes, effective, errors)
    if errors:
        raise ValidationFailed(
            refusal("the communes of supervision group %(code)s cannot be changed", code=repr(code)), errors
        )
    if {c.id for c in communes} == {c.id for c in group.communes}:
        raise Conflict(
            refusal("supervision group %(code)s already has these communes", code=repr(code)),
            {"commune_codes": [refusal("unchanged")]},
        )
    successor, _ = _next_version(session, actor, group, group.province, communes, effective)
    return successor


def close_group(session: Session, actor: Actor, code: str, effective: date | None = None) -> SupervisionGroup:
    """Close the group from `effective` (today by default). Staff bound to it keep its last communes as a
    historic, read-only reach until an administrator binds them elsewhere."""
    actor.require_admin()
    effective = effective or local_today()
    group = open_group(session, code)
    _require_after_start(group, effective)
    group.valid_to = effective
    flush(session, "supervision_group", group.id)
    forget_credentials(session)  # its staff's remembered reach is no longer in force
    record(
        session,
        actor,
        "supervision_group.close",
        "supervision_group",
        group.id,
        from_state="open",
        to_state="closed",
        details={"code": code, "valid_to": effective.isoformat()},
    )
    return group


def _require_after_start(group: SupervisionGroup, effective: date) -> None:
    if group.valid_from is not None and effective <= group.valid_from:
        raise ValidationFailed(
            refusal(
                "supervision group %(code)s is in force from %(day)s",
                code=repr(group.code),
                day=group.valid_from.isoformat(),
            ),
            {
                "effective": [
                    refusal("must be after %(day)s, when the current version began", day=group.valid_from.isoformat())
                ]
            },
        )


def _next_version(
    session: Session,
    actor: Actor,
    group: SupervisionGroup,
    province: AdminUnit,
    communes: list[AdminUnit],
    effective: date,
) -> tuple[SupervisionGroup, int]:
    """Close `group` on `effective` and open its successor with `communes`; bound staff follow. Returns the
    successor and how many accounts followed."""
    group.valid_to = effective
    flush(session, "supervision_group", group.id)  # the open-code index allows one open version at a time
    successor = SupervisionGroup(
        code=group.code, name=group.name, province=province, communes=communes, valid_from=effective
    )
    session.add(successor)
    flush(session, "supervision_group")
    bound = session.scalars(select(User).where(User.supervision_group_id == group.id)).all()
    for user in bound:
        user.supervision_group = successor
    flush(session, "user")
    forget_credentials(session)  # its staff's remembered reach names the old version's communes
    followed = len(bound)
    record(
        session,
        actor,
        "supervision_group.new_version",
        "supervision_group",
        successor.id,
        details={
            "code": group.code,
            "previous_version_id": group.id,
            "valid_from": effective.isoformat(),
            "commune_codes": [c.code for c in communes],
            "users_followed": followed,
        },
    )
    return successor, followed


def carry_groups_over(
    session: Session,
    successors: Mapping[int, list[int]] | Mapping[int, int],
    effective: date,
    *,
    actor: Actor = SYSTEM,
) -> list[CarriedGroup]:
    """Give every open group holding a closed commune a new version from `effective`, the commune's successors
    in its place; the editions loader calls this once per edition.

    `successors` maps each closed unit's id to the id (or ids) of the unit(s) that replace it; an empty list
    drops the commune. A province in the mapping is replaced by its first successor. A group left with no
    commune is closed. Returns one CarriedGroup per group touched, ordered by code; the caller commits.
    """
    replacing = {closed: [ids] if isinstance(ids, int) else list(ids) for closed, ids in successors.items()}
    if not replacing:
        return []
    touched = session.scalars(
        select(SupervisionGroup)
        .where(
            SupervisionGroup.valid_to.is_(None),
            SupervisionGroup.id.in_(
                select(supervision_group_communes.c.group_id).where(
                    supervision_group_communes.c.commune_id.in_(replacing)
                )
            ),
        )
        .order_by(SupervisionGroup.code)
    ).all()
    successor_ids = {i for ids in replacing.values() for i in ids}
    units = {unit.id: unit for unit in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(successor_ids)))}
    carried = []
    for group in touched:
        communes: dict[int, AdminUnit] = {}
        replaced: dict[str, list[str]] = {}
        for commune in group.communes:
            if commune.id in replacing:
                new = [units[i] for i in replacing[commune.id]]
                replaced[commune.code] = [unit.code for unit in new]
                communes.update((unit.id, unit) for unit in new)
            else:
                communes[commune.id] = commune
        if not communes:
            close_group(session, actor, group.code, effective)
            followed = 0
        else:
            province = units[replacing[group.province_id][0]] if replacing.get(group.province_id) else group.province
            _, followed = _next_version(session, actor, group, province, list(communes.values()), effective)
        carried.append(CarriedGroup(group.code, replaced, followed))
    return carried
