"""Personal data breach records (issue 17 item 5): the record, its transitions, the 72-hour clock, the admin
page and the export for the report to A05."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from camera_registry.models import (
    Breach,
    BreachDataCategory,
    BreachStatus,
    BreachTransitionRefused,
    Owner,
    User,
    breach_transition,
)

DISCOVERED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def test_a_breach_record_keeps_whose_data_and_moves_open_notified_closed(session, world):
    admin = session.scalar(select(User).where(User.username == "admin"))
    owner = session.get(Owner, world.objects["a"]["owner"])
    breach = Breach(
        description="Laptop with an export of commune A's register stolen",
        discovered_at=DISCOVERED,
        recorded_by=admin,
        data_categories=[BreachDataCategory.OWNER_CONTACTS.value],
        affected_count=1,
        owners=[owner],
    )
    session.add(breach)
    session.flush()
    session.expire_all()

    stored = session.get(Breach, breach.id)
    assert stored.status is BreachStatus.OPEN
    assert stored.discovered_at == DISCOVERED
    assert [o.id for o in stored.owners] == [owner.id]
    assert stored.data_categories == ["owner_contacts"]
    assert breach_transition(BreachStatus.OPEN, "notify") is BreachStatus.NOTIFIED
    assert breach_transition(BreachStatus.NOTIFIED, "close") is BreachStatus.CLOSED
    with pytest.raises(BreachTransitionRefused):
        breach_transition(BreachStatus.OPEN, "close")
    with pytest.raises(BreachTransitionRefused):
        breach_transition(BreachStatus.CLOSED, "update")
