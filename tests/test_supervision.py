"""Supervision groups: creating, versioning and closing them, and carrying them over an edition of the units."""

from __future__ import annotations

from datetime import date

import pytest
from registry_support import admin_unit
from sqlalchemy import func, select

from camera_registry.models import AdminLevel, AuditEvent, Lens, Role, SupervisionGroup, User
from camera_registry.models.base import utcnow
from camera_registry.services import accounts, stats, supervision
from camera_registry.services.access import SYSTEM, Actor, actor_for
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


# --------------------------------------------------------------------------- reach, figures and the map


def _bearer(session, user) -> dict[str, str]:
    _, secret = accounts.create_token(session, SYSTEM, user, "tests")
    session.commit()
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture()
def group_staff(session, world):
    """Staff bound to a group of commune A alone (of the world's communes A and B), and their group."""
    group = supervision.create_group(
        session, SYSTEM, code="P-A", name="Cụm xã A", province_code="P", commune_codes=["A"]
    )
    user = accounts.create_user(
        session, SYSTEM, "staff.cum", "correct horse battery", "district_staff", None, "", "P-A"
    )
    session.commit()
    return user, group


def test_group_staff_read_the_group_communes_and_write_nothing(session, world, group_staff):
    user, group = group_staff
    actor = actor_for(session, user)
    assert actor.readable_communes == {world.commune_a.id} and actor.writable_communes == frozenset()
    assert (actor.group_id, actor.historic_binding) == (group.id, False)
    assert not actor.sees_contacts(world.commune_a.id)
    later = supervision.set_group_communes(session, SYSTEM, "P-A", ["A", "B"], effective=date(2099, 1, 1))
    assert actor_for(session, user).readable_communes == {world.commune_a.id}
    assert actor_for(session, user, on=date(2099, 1, 1)).readable_communes == {world.commune_a.id, world.commune_b.id}
    supervision.close_group(session, SYSTEM, "P-A", effective=date(2099, 6, 1))
    historic = actor_for(session, user, on=date(2099, 7, 1))
    assert historic.historic_binding and historic.group_id == later.id
    assert historic.readable_communes == {world.commune_a.id, world.commune_b.id}


def test_staff_of_a_closed_district_keep_its_reach_read_only_and_are_told(session, world):
    world.district.valid_to = date(2025, 7, 1)
    user = session.scalar(select(User).where(User.username == "district-staff"))
    actor = actor_for(session, user)
    assert actor.historic_binding and actor.readable_communes >= {world.commune_a.id}
    assert actor.writable_communes == frozenset()
    assert not actor_for(
        session, session.scalar(select(User).where(User.username == "province-staff"))
    ).historic_binding


def test_the_pages_name_the_role_and_warn_of_a_historic_binding(client, session, world, group_staff):
    page = client.get("/", headers=_bearer(session, group_staff[0])).get_data(as_text=True)
    assert 'data-role="district_staff">Cán bộ giám sát cụm xã/phường<' in page and "data-historic-binding" not in page
    world.district.valid_to = date(2025, 7, 1)
    session.commit()
    historic = client.get("/map", headers=world.headers["district_staff"]).get_data(as_text=True)
    assert "Cán bộ quận, huyện (lịch sử)" in historic and "đã hết hiệu lực" in historic
    english = client.get("/map?lang=en", headers=world.headers["district_staff"]).get_data(as_text=True)
    assert "District staff (historical)" in english and "no longer in force" in english


def test_group_figures_equal_a_recount_of_its_communes_and_nothing_else(session, world, group_staff):
    user, group = group_staff
    actor = actor_for(session, user)
    period = stats.period_of_days()
    now = utcnow()  # one moment: a commune's coverage not stored yet is computed in each read, stamped with it
    [commune_row] = stats.unit_figures(session, actor, now=now).rows
    recount = stats.commune_tallies(session, [world.commune_a.id], period, now)[world.commune_a.id]
    assert commune_row.code == "A" and commune_row.figures == recount
    lenses = session.scalar(select(func.count()).select_from(Lens).where(Lens.commune_id == world.commune_a.id))
    assert commune_row.figures.lenses_active == lenses == 1
    [group_row] = stats.unit_figures(session, actor, level=AdminLevel.DISTRICT, now=now).rows
    assert (group_row.code, group_row.name, group_row.parent_code) == ("P-A", "Cụm xã A", "P")
    assert group_row.figures == recount
    [province_row] = stats.unit_figures(session, actor, level=AdminLevel.PROVINCE).rows
    assert province_row.figures.communes == 1 and province_row.figures.lenses_active == 1


def test_group_staff_see_the_group_on_the_map_and_in_the_api(client, session, world, group_staff):
    headers = _bearer(session, group_staff[0])
    both = "105.79,20.99,105.91,21.06"
    communes = client.get(f"/api/v1/map/communes?bbox={both}&zoom=12", headers=headers).get_json()
    assert [feature["properties"]["code"] for feature in communes["features"]] == ["A"]
    lenses = client.get(f"/api/v1/map/lenses?bbox={both}&zoom=17", headers=headers).get_json()
    assert [feature["id"] for feature in lenses["features"]] == [world.objects["a"]["lens"]]
    figures = client.get("/api/v1/stats/admin-units?level=district", headers=headers).get_json()
    assert [(row["code"], row["name"], row["communes"]) for row in figures["rows"]] == [("P-A", "Cụm xã A", 1)]
    assert client.get(f"/api/v1/lenses/{world.objects['b']['lens']}", headers=headers).status_code == 404


def test_a_new_version_of_the_group_reaches_its_staff_at_once_not_after_the_remembered_time(client, session, world):
    """A worker remembers a credential's reach for a few seconds; a group change must not wait for that."""
    supervision.create_group(
        session,
        SYSTEM,
        code="P-A",
        name="Cụm xã A",
        province_code="P",
        commune_codes=["A"],
        valid_from=date(2026, 1, 1),
    )
    user = accounts.create_user(
        session, SYSTEM, "staff.cum", "correct horse battery", "district_staff", None, "", "P-A"
    )
    headers = _bearer(session, user)

    def codes() -> list[str]:
        figures = client.get("/api/v1/stats/admin-units?level=commune", headers=headers).get_json()
        return sorted(row["code"] for row in figures["rows"])

    assert codes() == ["A"]
    supervision.set_group_communes(session, SYSTEM, "P-A", ["A", "B"])
    session.commit()
    assert codes() == ["A", "B"]


def test_the_demo_group_staff_reach_the_five_central_wards(session, hanoi):
    for code, name in (("00226", "Phường Văn Miếu - Quốc Tử Giám"), ("00145", "Phường Long Biên")):
        ward = admin_unit(code, name, parent=hanoi["01"])
        session.add(ward)
        hanoi[code] = ward
    session.flush()
    created = {account.username: account for account in accounts.create_demo_accounts(session)}
    assert created["demo.cumtrungtam"].unit_name == "Cụm phường trung tâm"
    user = accounts.get_user(session, "demo.cumtrungtam")
    central = {hanoi[code].id for code in ("00004", "00070", "00226", "00235", "00292")}
    assert actor_for(session, user).readable_communes == central
    assert hanoi["00145"].id not in central


# --------------------------------------------------------------------------- the commands


def test_groups_commands_define_version_list_and_close_a_group(app, session, hanoi):
    runner = app.test_cli_runner()
    created = runner.invoke(
        args=["groups", "create", "--code", "HN-TT", "--name", "Cụm phường trung tâm", "--province", "01",
              "--communes", "00004,00070", "--from", "2025-08-01"]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    assert "created supervision group HN-TT (Cụm phường trung tâm) with 2 communes" in created.output
    changed = runner.invoke(args=["groups", "set-communes", "HN-TT", "--communes", "00004,00292"])
    assert changed.exit_code == 0, changed.output
    listed = runner.invoke(args=["groups", "list", "--province", "01"]).output
    assert "HN-TT" in listed and "00004, 00292" in listed
    older = runner.invoke(args=["groups", "list", "--on", "2025-09-01"]).output
    assert "00004, 00070" in older
    bad = runner.invoke(args=["groups", "set-communes", "HN-TT", "--communes", "07999", "--effective", "2099-01-01"])
    assert bad.exit_code == 1 and "commune_codes: 07999: Xã Chí Đám is not in Thành phố Hà Nội" in bad.output
    assert runner.invoke(args=["groups", "close", "HN-TT", "--effective", "2099-01-01"]).exit_code == 0
    again = runner.invoke(args=["groups", "close", "HN-TT"])
    assert again.exit_code == 1 and "supervision group 'HN-TT' is closed" in again.output


def test_users_create_binds_staff_to_a_group_and_refuses_a_closed_one(app, session, hanoi):
    _group(session)
    session.commit()
    runner = app.test_cli_runner()
    command = ["users", "create", "--username", "staff.cum", "--role", "district_staff", "--password-stdin"]
    result = runner.invoke(args=[*command, "--group", "HN-TT"], input="correct horse battery\n")
    assert result.exit_code == 0, result.output
    assert "created district_staff staff.cum for Cụm phường trung tâm (HN-TT)" in result.output
    assert "staff.cum  district_staff  HN-TT" in runner.invoke(args=["users", "list"]).output
    closed = runner.invoke(args=[*command[:3], "old.staff", *command[4:], "--unit", "006"], input="x\n")
    assert closed.exit_code == 1 and "admin_unit_code: 006 (Quận Đống Đa) is closed" in closed.output


# --------------------------------------------------------------------------- the API


def test_admin_defines_and_versions_groups_over_the_api_and_staff_read_them(client, session, world):
    admin, staff = world.headers["admin"], world.headers["province_staff"]
    body = {"code": "P-AB", "name": "Cụm A B", "province_code": "P", "commune_codes": ["A"]}
    assert client.post("/api/v1/supervision-groups", json=body, headers=staff).status_code == 403
    created = client.post("/api/v1/supervision-groups", json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["commune_codes"] == ["A"]
    refused = client.post(
        "/api/v1/supervision-groups", json=body | {"code": "P-X", "commune_codes": ["Z"]}, headers=admin
    )
    assert refused.status_code == 422 and "commune_codes" in refused.get_json()["errors"]
    changed = client.put(
        "/api/v1/supervision-groups/P-AB/communes",
        json={"commune_codes": ["A", "B"], "effective": "2099-01-01"},
        headers=admin,
    )
    assert changed.status_code == 201 and changed.get_json()["valid_from"] == "2099-01-01"
    assert client.get("/api/v1/supervision-groups/P-AB", headers=staff).get_json()["commune_codes"] == ["A"]
    later = client.get("/api/v1/supervision-groups?on=2099-02-01", headers=world.headers["police_a"]).get_json()
    assert [(group["code"], group["commune_codes"]) for group in later] == [("P-AB", ["A", "B"])]
    closed = client.post("/api/v1/supervision-groups/P-AB/close", json={"effective": "2099-06-01"}, headers=admin)
    assert closed.status_code == 200 and closed.get_json()["valid_to"] == "2099-06-01"
    assert client.get("/api/v1/supervision-groups/P-AB?on=2099-07-01", headers=staff).status_code == 404
    assert client.get("/api/v1/supervision-groups").status_code == 401


def test_the_users_api_binds_staff_to_a_group_and_names_a_closed_one(client, session, world, group_staff):
    admin = world.headers["admin"]
    body = {"username": "staff.two", "password": "violet tram lantern", "role": "district_staff", "group_code": "P-A"}
    created = client.post("/api/v1/users", json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    assert (created.get_json()["group_code"], created.get_json()["admin_unit_code"]) == ("P-A", None)
    supervision.close_group(session, SYSTEM, "P-A", effective=date(2099, 1, 1))
    session.commit()
    refused = client.post("/api/v1/users", json=body | {"username": "staff.three"}, headers=admin)
    assert refused.status_code == 422
    assert refused.get_json()["errors"]["group_code"] == ["supervision group 'P-A' is closed"]
