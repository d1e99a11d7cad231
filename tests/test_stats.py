"""Figures per commune, district and province equal a recount from the raw rows, and keep to each role's reach."""

from __future__ import annotations

import io
import math
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from geoalchemy2.shape import to_shape
from shapely.geometry import Point
from sqlalchemy import func, select

from camera_registry.models import (
    AdminLevel,
    AdminUnit,
    AssignmentStatus,
    FootageRequest,
    Lens,
    LensStatus,
    Owner,
    Recorder,
    RecorderStatus,
    RequestStatus,
    Role,
    SharingCommitment,
    Site,
)
from camera_registry.services import stats
from camera_registry.services.access import SYSTEM, Actor
from camera_registry.services.errors import NotFound, ValidationFailed
from camera_registry.services.requests import act_on_assignment, cancel_request, open_request
from camera_registry.services.sample import load_dataset
from camera_registry.services.sample_generator import generate_city
from camera_registry.services.workflow import transition_assignment
from camera_registry.timezones import LOCAL_ZONE

NOW = datetime.now(UTC)
SHA = "cd" * 32


def police_of(commune: AdminUnit) -> Actor:
    reach = frozenset({commune.id})
    return Actor(f"commune_police:{commune.code}", Role.COMMUNE_POLICE, None, commune.id, reach, reach)


def in_front_of(lens: Lens) -> Point:
    """8 m along the lens's bearing: inside its field of view."""
    point, bearing = to_shape(lens.point), math.radians(lens.bearing_deg)
    return Point(
        point.x + 8 * math.sin(bearing) / (111_320 * math.cos(math.radians(point.y))),
        point.y + 8 * math.cos(bearing) / 110_574,
    )


def behind(lens: Lens) -> Point:
    point, bearing = to_shape(lens.point), math.radians(lens.bearing_deg + 180)
    return Point(
        point.x + 8 * math.sin(bearing) / (111_320 * math.cos(math.radians(point.y))),
        point.y + 8 * math.cos(bearing) / 110_574,
    )


def file_request(session, commune, lens, incident=None, now=NOW, draft=False):
    return open_request(
        session,
        police_of(commune),
        case_ref=f"VV-{lens.id}",
        reason="Trộm cắp",
        legal_basis="Điều 145",
        incident=incident or in_front_of(lens),
        window_start=now - timedelta(hours=3),
        window_end=now - timedelta(hours=2),
        now=now,
        draft=draft,
        public_base_url="http://127.0.0.1:5000",
    )


def answer_all(session, commune, request, *actions):
    for assignment in list(request.assignments):
        for action in actions:
            if action == "expire":
                transition_assignment(session, SYSTEM, assignment, "expire")
            else:
                act_on_assignment(
                    session,
                    police_of(commune),
                    assignment.id,
                    action,
                    evidence_ref="VC-1" if action == "receive_footage" else None,
                    evidence_sha256=SHA if action == "receive_footage" else None,
                )


@pytest.fixture()
def city(session, tmp_path):
    """A generated city on Hà Nội's communes, the 18 with sites first (by lenses, most first); three of them
    grouped under a district, one closed by a reform, and footage requests in every state in two communes."""
    generate_city(tmp_path / "city", lenses=4000, sites=18, seed=5)
    load_dataset(session, tmp_path / "city")
    communes = list(
        session.scalars(
            select(AdminUnit)
            .outerjoin(Lens, Lens.commune_id == AdminUnit.id)
            .where(AdminUnit.level == AdminLevel.COMMUNE)
            .group_by(AdminUnit.id)
            .order_by(func.count(Lens.id).desc(), AdminUnit.code)
        )
    )
    province = communes[0].parent
    district = AdminUnit(code="GD1", name="Quận mẫu", level=AdminLevel.DISTRICT, parent=province)
    session.add(district)
    for commune in communes[:3]:
        commune.parent = district
    communes[-1].valid_to = date.today() - timedelta(days=1)  # merged away: no longer a row
    session.flush()

    def lenses_of(commune):
        return list(
            session.scalars(
                select(Lens)
                .join(Recorder)
                .where(
                    Lens.commune_id == commune.id,
                    Lens.status == LensStatus.ACTIVE,
                    Recorder.status == RecorderStatus.ACTIVE,
                    Lens.bearing_deg.is_not(None),
                )
                .order_by(Lens.id)
            )
        )

    for commune, step in ((communes[0], 23), (communes[4], 29)):
        lenses = lenses_of(commune)[::step]
        plans = [
            ("consent", "receive_footage", "close"),
            ("decline",),
            ("report_no_footage",),
            ("expire",),
            ("consent",),
            (),
            ("consent", "receive_footage"),
        ]
        for lens, actions in zip(lenses, plans):
            request = file_request(session, commune, lens)
            answer_all(session, commune, request, *actions)
        cancel_request(session, police_of(commune), file_request(session, commune, lenses[-1]).id)
        consented_then_cancelled = file_request(session, commune, lenses[-2])
        answer_all(session, commune, consented_then_cancelled, "consent")
        cancel_request(session, police_of(commune), consented_then_cancelled.id)
        file_request(session, commune, lenses[-3], incident=behind(lenses[-3]))  # no one to ask: resolved at once
        file_request(session, commune, lenses[-4], draft=True)  # never opened
        long_ago = file_request(session, commune, lenses[-5], now=NOW - timedelta(days=60))  # before the period
        answer_all(session, commune, long_ago, "decline")
    # One commitment revoked, one recorder removed: both change what the registry holds now.
    session.scalars(
        select(SharingCommitment).where(SharingCommitment.revoked_at.is_(None)).limit(1)
    ).one().revoked_at = NOW
    session.scalars(
        select(Recorder).where(Recorder.commune_id == communes[1].id).limit(1)
    ).one().status = RecorderStatus.REMOVED
    session.commit()
    return communes


def recount(session, period: stats.Period, now: datetime) -> dict[int, dict]:
    """Every figure of every current commune, counted in plain Python from the ORM rows."""
    today = now.astimezone(LOCAL_ZONE).date()
    figures = defaultdict(lambda: defaultdict(int))
    units = {unit.id: unit for unit in session.scalars(select(AdminUnit))}
    current = {uid for uid, unit in units.items() if unit.level == AdminLevel.COMMUNE and unit.valid_on(today)}
    commitments = list(session.scalars(select(SharingCommitment)))
    for uid in current:
        figures[uid]["communes"] = 1
        figures[uid]["hours"] = []
    for lens in session.scalars(select(Lens)):
        if lens.commune_id not in current:
            continue
        f = figures[lens.commune_id]
        f["lenses_active"] += lens.status == LensStatus.ACTIVE
        f["lenses_offline"] += lens.status == LensStatus.OFFLINE
        shared = any(c.is_active_at(now) and c.covers(lens.recorder) for c in commitments)
        f["shared_active_lenses"] += lens.status == LensStatus.ACTIVE and shared
    for recorder in session.scalars(select(Recorder)):
        if recorder.commune_id in current and recorder.status != RecorderStatus.REMOVED:
            figures[recorder.commune_id]["recorders"] += 1
    for owner in session.scalars(select(Owner)):
        if owner.commune_id in current:
            figures[owner.commune_id][f"owners_{owner.kind.value}"] += 1
    for site in session.scalars(select(Site)):
        if site.commune_id in current:
            figures[site.commune_id]["sites"] += 1
    for request in session.scalars(select(FootageRequest)):
        if request.commune_id not in current or request.routed_at is None:
            continue
        if not period.start <= request.routed_at < period.end:
            continue
        f = figures[request.commune_id]
        f["requests_opened"] += 1
        if request.status == RequestStatus.RESOLVED:
            f["requests_resolved"] += 1
            if request.assignments:
                f["hours"].append((request.closed_at - request.routed_at).total_seconds() / 3600)
        for assignment in request.assignments:
            answered = assignment.status in (
                AssignmentStatus.CONSENTED,
                AssignmentStatus.DECLINED,
                AssignmentStatus.NO_FOOTAGE,
                AssignmentStatus.FOOTAGE_RECEIVED,
            ) or (assignment.status == AssignmentStatus.CLOSED and assignment.answered_at is not None)
            f["assignments_answered"] += answered
            f["assignments_consented"] += answered and assignment.status not in (
                AssignmentStatus.DECLINED,
                AssignmentStatus.NO_FOOTAGE,
            )
            f["assignments_expired"] += assignment.status == AssignmentStatus.EXPIRED
    return figures


def rolled_up(figures: dict[int, dict], members: list[int]) -> dict:
    total = defaultdict(int)
    total["hours"] = []
    for uid in members:
        for name, value in figures[uid].items():
            total[name] = total[name] + value
    return total


def assert_row_matches(row: stats.UnitFigures, expected: dict):
    tally = row.figures
    for name in (
        "communes",
        "lenses_active",
        "lenses_offline",
        "shared_active_lenses",
        "recorders",
        "owners_household",
        "owners_agency",
        "owners_business",
        "sites",
        "requests_opened",
        "requests_resolved",
        "assignments_answered",
        "assignments_consented",
        "assignments_expired",
    ):
        assert getattr(tally, name) == expected[name], (row.code, name)
    ratio = lambda part, whole: part / whole if whole else None  # noqa: E731
    assert tally.sharing_rate == ratio(expected["shared_active_lenses"], expected["lenses_active"])
    assert tally.consent_rate == ratio(expected["assignments_consented"], expected["assignments_answered"])
    assert tally.expired_share == ratio(
        expected["assignments_expired"], expected["assignments_answered"] + expected["assignments_expired"]
    )
    hours = expected["hours"]
    assert tally.median_hours_to_resolution == (pytest.approx(statistics.median(hours)) if hours else None)


def test_figures_equal_a_recount_at_every_level(session, city):
    communes = stats.unit_figures(session, SYSTEM, now=NOW)
    expected = recount(session, communes.period, NOW)
    units = {unit.id: unit for unit in session.scalars(select(AdminUnit))}
    by_code = {units[uid].code: uid for uid in expected}

    assert [row.code for row in communes.rows] == sorted(by_code)  # current communes only: 125 of 126
    assert len(communes.rows) == 125
    for row in communes.rows:
        assert_row_matches(row, expected[by_code[row.code]])
    busy = [row for row in communes.rows if row.figures.requests_opened]
    assert len(busy) == 2 and all(row.figures.assignments_expired and row.figures.consent_rate for row in busy)

    [province] = stats.unit_figures(session, SYSTEM, level=AdminLevel.PROVINCE, now=NOW).rows
    assert_row_matches(province, rolled_up(expected, list(expected)))
    assert province.figures.sharing_rate != statistics.mean(
        row.figures.sharing_rate for row in communes.rows if row.figures.sharing_rate is not None
    )  # recomputed from sums, not averaged

    [district] = stats.unit_figures(session, SYSTEM, level=AdminLevel.DISTRICT, now=NOW).rows
    assert district.code == "GD1" and district.parent_code == "01"
    assert_row_matches(district, rolled_up(expected, [c.id for c in city[:3]]))

    under = stats.unit_figures(session, SYSTEM, parent_code="GD1", now=NOW)
    assert [row.code for row in under.rows] == sorted(c.code for c in city[:3])


def test_the_period_selects_requests_by_when_they_were_opened(session, city):
    today = NOW.astimezone(LOCAL_ZONE).date()
    report = stats.unit_figures(
        session,
        SYSTEM,
        first=today - timedelta(days=61),
        end=today - timedelta(days=59),
        level=AdminLevel.PROVINCE,
        now=NOW,
    )
    expected = recount(session, report.period, NOW)
    [province] = report.rows
    assert province.figures.requests_opened == 2 and province.figures.assignments_answered >= 2
    assert province.figures.consent_rate == 0.0
    assert_row_matches(province, rolled_up(expected, list(expected)))


def test_reach_police_see_their_commune_staff_their_subtree(session, city):
    own = stats.unit_figures(session, police_of(city[4]), now=NOW)
    assert [row.code for row in own.rows] == [city[4].code]
    [province] = stats.unit_figures(session, police_of(city[4]), level=AdminLevel.PROVINCE, now=NOW).rows
    assert province.figures.communes == 1 and province.figures.lenses_active == own.rows[0].figures.lenses_active
    with pytest.raises(NotFound):
        stats.unit_figures(session, SYSTEM, parent_code="nowhere")


def test_period_of_days_is_vietnamese_calendar_days():
    period = stats.period_of_days(date(2026, 3, 1), date(2026, 4, 1))
    assert period.start == datetime(2026, 2, 28, 17, tzinfo=UTC)
    assert period.end - period.start == timedelta(days=31)
    assert stats.period_of_days(today=date(2026, 3, 10)).end == datetime(2026, 3, 10, 17, tzinfo=UTC)
    with pytest.raises(ValidationFailed):
        stats.period_of_days(date(2026, 4, 1), date(2026, 4, 1))


# --------------------------------------------------------------------------- the API and its downloads


def test_api_rows_and_reach(client, world):
    body = client.get("/api/v1/stats/admin-units", headers=world.headers["district_staff"]).get_json()
    assert [row["code"] for row in body["rows"]] == ["A"]
    row = body["rows"][0]
    assert (row["lenses_active"], row["shared_active_lenses"], row["sharing_rate"]) == (1, 1, 1.0)
    assert (row["recorders"], row["owners_household"], row["sites"], row["parent_code"]) == (1, 1, 2, "D")
    assert body["level"] == "commune" and body["from"] < body["to"]

    province = client.get("/api/v1/stats/admin-units?level=province", headers=world.headers["admin"]).get_json()
    assert [(r["code"], r["communes"], r["lenses_active"]) for r in province["rows"]] == [("P", 2, 2)]
    police = client.get("/api/v1/stats/admin-units?parent=P", headers=world.headers["police_b"]).get_json()
    assert [r["code"] for r in police["rows"]] == ["B"]

    assert client.get("/api/v1/stats/admin-units").status_code == 401
    assert client.get("/api/v1/stats/admin-units?parent=nowhere", headers=world.headers["admin"]).status_code == 404
    refused = client.get("/api/v1/stats/admin-units?from=2026-02-01&to=2026-01-01", headers=world.headers["admin"])
    assert refused.status_code == 422 and "to" in refused.get_json()["errors"]
    assert client.get("/api/v1/stats/admin-units?format=pdf", headers=world.headers["admin"]).status_code == 422


def test_csv_and_xlsx_downloads_have_vietnamese_headers_and_text_codes(client, world):
    # The API answers in English unless asked (docs/figures.md); the Vietnamese downloads are asked for.
    csv_answer = client.get("/api/v1/stats/admin-units?format=csv&lang=vi", headers=world.headers["admin"])
    assert csv_answer.status_code == 200 and csv_answer.mimetype == "text/csv"
    assert "attachment" in csv_answer.headers["Content-Disposition"]
    lines = csv_answer.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0].startswith("Mã đơn vị,Tên đơn vị,Cấp") and "Tỷ lệ chia sẻ" in lines[0]
    assert lines[1].startswith("A,Xã A,commune,D,1,1,0,1,1.0,")

    xlsx = client.get(
        "/api/v1/stats/admin-units?level=province",
        headers={
            **world.headers["admin"],
            "Accept-Language": "vi",
            "Accept": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        },
    )
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    header, row = [cell.value for cell in sheet[1]], list(sheet[2])
    assert header[:2] == ["Mã đơn vị", "Tên đơn vị"] and "Tỷ lệ đồng ý" in header
    assert row[0].value == "P" and row[0].data_type == "s"
    assert row[header.index("Số xã, phường")].value == 2
    sharing = row[header.index("Tỷ lệ chia sẻ")]
    assert sharing.value == 1.0 and "%" in sharing.number_format
    assert row[header.index("Tỷ lệ đồng ý")].value is None  # no answers yet: blank, not zero
