"""One notion of "today" (the Vietnamese calendar day) and of "a unit valid on a day", in Python and in SQL."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from camera_registry.models import AdminLevel, AdminUnit
from camera_registry.timezones import LOCAL_ZONE, local_midnight, local_today


def test_today_is_the_vietnamese_day_whatever_the_servers_zone():
    late_utc = datetime(2026, 12, 1, 17, 30, tzinfo=UTC)  # 00:30 on 2 December in Hà Nội
    assert local_today(late_utc) == date(2026, 12, 2)
    assert local_today(datetime(2026, 12, 1, 16, 59, tzinfo=UTC)) == date(2026, 12, 1)
    assert local_today() == datetime.now(LOCAL_ZONE).date()


def test_a_vietnamese_day_begins_at_midnight_utc_plus_7():
    assert local_midnight(date(2026, 12, 2)).astimezone(UTC) == datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "day, expected",
    [
        (date(2025, 6, 30), {"OPEN", "OLD"}),
        (date(2025, 7, 1), {"OPEN", "SINCE"}),  # valid_to is exclusive, valid_from inclusive
        (date(2030, 1, 1), {"OPEN", "SINCE"}),
    ],
)
def test_valid_on_is_the_same_rule_on_a_unit_and_in_sql(session, day, expected):
    reform = date(2025, 7, 1)
    units = [
        AdminUnit(code="OPEN", name="Xã Mở", level=AdminLevel.COMMUNE),
        AdminUnit(code="OLD", name="Xã Cũ", level=AdminLevel.COMMUNE, valid_to=reform),
        AdminUnit(code="SINCE", name="Xã Mới", level=AdminLevel.COMMUNE, valid_from=reform),
    ]
    session.add_all(units)
    session.flush()
    in_python = {unit.code for unit in units if unit.valid_on(day)}
    in_sql = set(session.scalars(select(AdminUnit.code).where(AdminUnit.valid_on(day))))
    assert in_python == in_sql == expected
