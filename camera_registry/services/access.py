"""Who may read and write what: an actor and the communes in their reach.

admin reads and writes everywhere; province staff read their province's
subtree; staff bound to a supervision group (role district_staff, shown as
supervision group staff) read the communes of the group's version in force
today; commune police read and write their own commune. Owner contact data
goes only to admin and to the police of the owner's commune.

A binding to a closed unit (a pre-reform district, say) or a closed group is
historic: the account keeps that past reach, read-only, and the pages say so
(`Actor.historic_binding`) until an administrator binds it anew.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AdminLevel, AdminUnit, Role, SupervisionGroup, User
from ..timezones import local_today
from .errors import PermissionDenied
from .messages import Message, domain_term, refusal


@dataclass(frozen=True)
class Actor:
    label: str
    role: Role | None = None  # None: the system itself (CLI, scheduler)
    user_id: int | None = None
    unit_id: int | None = None
    readable_communes: frozenset[int] | None = None  # None: every commune
    writable_communes: frozenset[int] | None = None  # None: every commune
    owner_id: int | None = None  # set: a camera owner acting through their link, with no reach at all
    group_id: int | None = None  # the supervision group version whose communes are the reach
    historic_binding: bool = False  # bound to a closed unit or group: a past reach, read-only

    @property
    def name(self) -> Message:
        """The label as a refusal names the actor, its kind ("province_staff", "owner") in the reader's words."""
        kind, _, who = self.label.partition(":")
        return refusal("%(kind)s:%(who)s", kind=domain_term(kind), who=who) if who else domain_term(kind)

    @property
    def is_admin(self) -> bool:
        return self.owner_id is None and self.role in (None, Role.ADMIN)

    def can_read(self, commune_id: int | None) -> bool:
        return self.readable_communes is None or commune_id in self.readable_communes

    def can_write(self, commune_id: int | None) -> bool:
        return self.writable_communes is None or commune_id in self.writable_communes

    def sees_contacts(self, commune_id: int | None) -> bool:
        return self.is_admin or (self.role == Role.COMMUNE_POLICE and self.can_write(commune_id))

    def require_write(self, commune_id: int | None, what: str = domain_term("this record")) -> None:
        if not self.can_write(commune_id):
            raise PermissionDenied(
                refusal("%(actor)s may not change %(what)s outside their own commune", actor=self.name, what=what)
            )

    def require_admin(self) -> None:
        if not self.is_admin:
            what = domain_term(self.role.value if self.role else "a camera owner")
            raise PermissionDenied(
                refusal("only an administrator may do this (%(actor)s is %(what)s)", actor=self.name, what=what)
            )


SYSTEM = Actor(label="system")


def owner_actor(owner_id: int) -> Actor:
    """A camera owner answering through a link. Owners reach no commune: the link itself is their right to act,
    so the services for link actions check the link, and this actor only names who acted in the audit trail."""
    return Actor(
        label=f"owner:{owner_id}", owner_id=owner_id, readable_communes=frozenset(), writable_communes=frozenset()
    )


def subtree_ids(session: Session, unit_id: int) -> frozenset[int]:
    """The unit and everything below it, historic units included."""
    tree = select(AdminUnit.id).where(AdminUnit.id == unit_id).cte("subtree", recursive=True)
    tree = tree.union_all(select(AdminUnit.id).where(AdminUnit.parent_id == tree.c.id))
    return frozenset(session.scalars(select(tree.c.id)))


def actor_for(session: Session, user: User, on: date | None = None) -> Actor:
    """The user's reach on `on` (today in Vietnam by default)."""
    label = f"{user.role.value}:{user.username}"
    if user.role == Role.ADMIN:
        return Actor(label, user.role, user.id, user.admin_unit_id)
    on = on or local_today()
    if user.supervision_group is not None:
        group = group_in_force(session, user.supervision_group, on)
        reach = frozenset(commune.id for commune in group.communes)
        historic = not group.valid_on(on)
        return Actor(label, user.role, user.id, None, reach, frozenset(), group_id=group.id, historic_binding=historic)
    reach = subtree_ids(session, user.admin_unit_id) if user.admin_unit_id else frozenset()
    historic = user.admin_unit is not None and not user.admin_unit.valid_on(on)
    writable = reach if user.role == Role.COMMUNE_POLICE and not historic else frozenset()
    return Actor(label, user.role, user.id, user.admin_unit_id, reach, writable, historic_binding=historic)


def group_in_force(session: Session, group: SupervisionGroup, on: date) -> SupervisionGroup:
    """The version of the group's code in force on `on`; else the given version, whose communes a closed
    group's staff keep as a historic reach."""
    current = session.scalar(
        select(SupervisionGroup).where(SupervisionGroup.code == group.code, SupervisionGroup.valid_on(on))
    )
    return current or group


def current_communes_under(session: Session, unit_id: int, on: date | None = None) -> list[AdminUnit]:
    """The communes valid on `on` in a unit's subtree."""
    on = on or local_today()
    ids = subtree_ids(session, unit_id)
    return list(
        session.scalars(
            select(AdminUnit)
            .where(
                AdminUnit.id.in_(ids),
                AdminUnit.level == AdminLevel.COMMUNE,
                AdminUnit.valid_on(on),
            )
            .order_by(AdminUnit.name)
        )
    )
