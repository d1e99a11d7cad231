"""Supervision groups: creating, versioning and closing them, and carrying them over an edition of the units."""

from __future__ import annotations

from datetime import date

import pytest
from registry_support import admin_unit
from sqlalchemy import select

from camera_registry.models import AdminLevel, AuditEvent, Role, SupervisionGroup, User
from camera_registry.services import supervision
from camera_registry.services.access import SYSTEM, Actor
from camera_registry.services.errors import Conflict, NotFound, PermissionDenied, ValidationFailed

REFORM = date(2025, 7, 1)
LATER = date(2026, 4, 30)


@pytest.fixture()
def hanoi(session):
    """Hà Nội with four post-reform wards (real codes), one pre-reform district and its closed ward, and Phú Thọ."""
    province = admin_unit("01", "Thành phố Hà Nội", AdminLevel.PROVINCE)
    phu_tho = admin_unit("25", "Tỉnh Phú Thọ", AdminLevel.PROVINCE)
    district = admin_unit("006", "Quận Đống Đa", AdminLevel.DISTRICT, province)
    district.valid_to = REFORM
    old_ward = admin_unit("00217", "Phường Văn Chương", parent=district)
    old_ward.valid_to = REFORM
    units = [province, phu_tho, district, old_ward]
    for code, name in (
        ("00004", "Phường Ba Đình"),
        ("00070", "Phường Hoàn Kiếm"),
        ("00235", "Phường Đống Đa"),
        ("00292", "Phường Bạch Mai"),
    ):
        ward = admin_unit(code, name, parent=province)
        ward.valid_from = REFORM
        units.append(ward)
    units.append(admin_unit("07999", "Xã Chí Đám", parent=phu_tho))
    session.add_all(units)
    session.flush()
    return {unit.code: unit for unit in units}


def _group(session, code="HN-TT", communes=("00004", "00070", "00235")):
    return supervision.create_group(
        session,
        SYSTEM,
        code=code,
        name="Cụm phường trung tâm",
        province_code="01",
        commune_codes=communes,
        valid_from=date(2025, 8, 1),
    )


def _staff(session, group):
    user = User(username="staff.cum", password_hash="!", role=Role.DISTRICT_STAFF, supervision_group=group)
    session.add(user)
    session.flush()
    return user


def _codes(group) -> list[str]:
    return sorted(commune.code for commune in group.communes)


def _actions(session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).where(AuditEvent.entity_type == "supervision_group")))


def test_a_group_holds_current_communes_of_its_province_and_is_audited(session, hanoi):
    group = _group(session)
    assert (group.code, group.province.code, _codes(group)) == ("HN-TT", "01", ["00004", "00070", "00235"])
    assert supervision.get_group(session, "HN-TT") is group
    assert supervision.list_groups(session, province_code="01") == [group]
    assert supervision.list_groups(session, province_code="25") == []
    assert _actions(session) == ["supervision_group.create"]


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"province_code": "006"}, "province_code", "not a province"),
        ({"commune_codes": ["00217"]}, "commune_codes", "no unit with this code is in force"),
        ({"commune_codes": ["07999"]}, "commune_codes", "not in Thành phố Hà Nội"),
        ({"commune_codes": ["99999"]}, "commune_codes", "no unit with this code"),
        ({"commune_codes": []}, "commune_codes", "at least one commune"),
        ({"name": " "}, "name", "1 to 200 characters"),
    ],
)
def test_bad_groups_are_refused_naming_the_field(session, hanoi, changes, field, reason):
    values = {"code": "HN-X", "name": "Cụm", "province_code": "01", "commune_codes": ["00004"]} | changes
    with pytest.raises(ValidationFailed) as refused:
        supervision.create_group(session, SYSTEM, valid_from=date(2025, 8, 1), **values)
    assert reason in " ".join(refused.value.errors[field])
    assert session.scalar(select(SupervisionGroup.id)) is None


def test_a_group_code_is_taken_once_and_only_an_admin_defines_groups(session, hanoi):
    _group(session)
    with pytest.raises(Conflict):
        _group(session)
    staff = Actor("province_staff:x", Role.PROVINCE_STAFF, readable_communes=frozenset())
    with pytest.raises(PermissionDenied):
        supervision.create_group(session, staff, code="HN-Y", name="Cụm", province_code="01", commune_codes=["00004"])


def test_changing_communes_opens_a_new_version_and_bound_staff_follow(session, hanoi):
    first = _group(session)
    staff = _staff(session, first)
    second = supervision.set_group_communes(session, SYSTEM, "HN-TT", ["00004", "00292"], effective=LATER)
    assert second.id != first.id and second.code == first.code
    assert (first.valid_to, _codes(first)) == (LATER, ["00004", "00070", "00235"])
    assert (second.valid_from, second.valid_to, _codes(second)) == (LATER, None, ["00004", "00292"])
    session.refresh(staff)
    assert staff.supervision_group_id == second.id
    assert supervision.get_group(session, "HN-TT", on=date(2026, 1, 1)) == first
    assert supervision.get_group(session, "HN-TT", on=LATER) == second
    assert _actions(session) == ["supervision_group.create", "supervision_group.new_version"]


def test_a_closed_version_is_never_rewritten(session, hanoi):
    _group(session)
    with pytest.raises(ValidationFailed) as refused:
        supervision.set_group_communes(session, SYSTEM, "HN-TT", ["00004"], effective=date(2025, 8, 1))
    assert "effective" in refused.value.errors
    with pytest.raises(Conflict):
        supervision.set_group_communes(session, SYSTEM, "HN-TT", ["00235", "00070", "00004"], effective=LATER)
    supervision.close_group(session, SYSTEM, "HN-TT", effective=LATER)
    with pytest.raises(Conflict) as closed:
        supervision.set_group_communes(session, SYSTEM, "HN-TT", ["00004"], effective=date(2026, 6, 1))
    assert "closed" in closed.value.errors["code"][0]
    with pytest.raises(NotFound):
        supervision.get_group(session, "HN-TT", on=LATER)
    with pytest.raises(NotFound):
        supervision.close_group(session, SYSTEM, "HN-NONE")


def test_an_edition_carries_groups_over_to_the_successor_communes(session, hanoi):
    group = _group(session)
    staff = _staff(session, group)
    untouched = _group(session, code="HN-BM", communes=["00292"])
    merged = admin_unit("00300", "Phường Trung Tâm", parent=hanoi["01"])
    merged.valid_from = LATER
    session.add(merged)
    session.flush()
    closed_ids = {hanoi["00070"].id: [merged.id], hanoi["00235"].id: merged.id}

    carried = supervision.carry_groups_over(session, closed_ids, LATER)

    assert carried == [supervision.CarriedGroup("HN-TT", {"00070": ["00300"], "00235": ["00300"]}, 1)]
    successor = supervision.get_group(session, "HN-TT", on=LATER)
    assert _codes(successor) == ["00004", "00300"] and group.valid_to == LATER
    session.refresh(staff)
    assert staff.supervision_group_id == successor.id
    assert untouched.valid_to is None
    assert supervision.carry_groups_over(session, {}, LATER) == []


def test_a_group_whose_every_commune_closes_without_successor_is_closed(session, hanoi):
    group = _group(session, communes=["00004"])
    carried = supervision.carry_groups_over(session, {hanoi["00004"].id: []}, LATER)
    assert carried == [supervision.CarriedGroup("HN-TT", {"00004": []}, 0)]
    assert group.valid_to == LATER
    assert supervision.list_groups(session, on=LATER) == []
