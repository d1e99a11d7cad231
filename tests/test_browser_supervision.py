"""Headless Chromium: the demo supervision group's staff sign in and see their group's communes, on the map and in
the figures, and nothing of the communes around them.

The server runs on a database of its own, built here: Hà Nội's five central wards of the demo group and Phường
Long Biên beside them (boxes, with a camera in Đống Đa, Hoàn Kiếm and Long Biên), Phú Thọ's Xã Chí Đám, and the
demo accounts made by `create_demo_accounts`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from browser_support import sign_in
from conftest import SCREENSHOTS, LiveServer
from database_support import app_of_its_own, served
from geoalchemy2.shape import from_shape
from registry_support import admin_unit
from shapely import Point

from camera_registry import migrate
from camera_registry.models import (
    AdminLevel,
    CommitmentChannel,
    Lens,
    Owner,
    OwnerKind,
    Recorder,
    SharingCommitment,
)
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

PASSWORD = "browser-group-password"
#: Code, name and (west, south) corner of each ward's 0.01° box, side by side along one row.
WARDS = [
    ("00004", "Phường Ba Đình", 105.80),
    ("00070", "Phường Hoàn Kiếm", 105.81),
    ("00226", "Phường Văn Miếu - Quốc Tử Giám", 105.82),
    ("00235", "Phường Đống Đa", 105.83),
    ("00292", "Phường Bạch Mai", 105.84),
    ("00145", "Phường Long Biên", 105.85),
]
WITH_CAMERAS = {"00235": 3, "00070": 1, "00145": 2}  # lenses per ward


def _recorder_in(ward, lenses: int) -> list:
    west = next(corner for code, _, corner in WARDS if code == ward.code)
    owner = Owner(external_id=f"owner-{ward.code}", kind=OwnerKind.BUSINESS, name=f"Cửa hàng {ward.name}", commune=ward)
    recorder = Recorder(
        external_id=f"rec-{ward.code}",
        owner=owner,
        retention_days=14,
        point=from_shape(Point(west + 0.005, 21.025), srid=4326),
    )
    signed = datetime.now(UTC) - timedelta(days=10)
    commitment = SharingCommitment(
        owner=owner,
        all_recorders=True,
        signed_at=signed,
        valid_until=signed + timedelta(days=365),
        channel=CommitmentChannel.PAPER,
        text_version="2024.1",
    )
    cameras = [
        Lens(
            external_id=f"lens-{ward.code}-{n}",
            recorder=recorder,
            point=from_shape(Point(west + 0.004 + 0.0005 * n, 21.025), srid=4326),
            bearing_deg=90.0,
            fov_deg=90.0,
            range_m=30.0,
        )
        for n in range(lenses)
    ]
    return [owner, recorder, commitment, *cameras]


@pytest.fixture(scope="module")
def live_server(database_server):
    with app_of_its_own(database_server, "browser_group") as app:
        migrate.upgrade(app.extensions["engine"])
        with app.extensions["session_factory"]() as session:
            hanoi = admin_unit("01", "Thành phố Hà Nội", AdminLevel.PROVINCE)
            phu_tho = admin_unit("25", "Tỉnh Phú Thọ", AdminLevel.PROVINCE)
            chi_dam = admin_unit("07999", "Xã Chí Đám", parent=phu_tho, bounds=(105.10, 21.60, 105.12, 21.62))
            wards = {
                code: admin_unit(code, name, parent=hanoi, bounds=(w, 21.02, w + 0.01, 21.03))
                for code, name, w in WARDS
            }
            session.add_all([hanoi, phu_tho, chi_dam, *wards.values()])
            session.flush()
            for code, lenses in WITH_CAMERAS.items():
                session.add_all(_recorder_in(wards[code], lenses))
            accounts.create_demo_accounts(session)
            accounts.change_password(session, SYSTEM, "demo.cumtrungtam", PASSWORD)
            session.commit()
        with served(app) as base_url:
            yield LiveServer(base_url, "demo.cumtrungtam", PASSWORD, app.config["DATABASE_URL"], app)


GROUP = ["00004", "00070", "00226", "00235", "00292"]


def test_the_demo_group_staff_see_their_group_on_the_map_and_in_the_figures(page, live_server, backend):
    sign_in(page, live_server, "demo.cumtrungtam")
    assert page.inner_text("header [data-role]") == "Cán bộ giám sát cụm xã/phường"
    assert page.locator("header [data-historic-binding]").count() == 0

    page.click("header a:has-text('Bản đồ phủ camera')")
    page.wait_for_url(f"{live_server.url}/map")
    page.wait_for_selector("path.commune[data-commune='00235']")
    page.wait_for_load_state("networkidle")
    drawn = page.eval_on_selector_all("path.commune", "paths => paths.map(p => p.dataset.commune)")
    assert sorted(drawn) == GROUP  # not Long Biên beside them, nor Chí Đám
    page.screenshot(path=str(SCREENSHOTS / f"supervision-map-{backend}.png"))

    page.goto(f"{live_server.url}/figures")
    rows = page.eval_on_selector_all("tr[data-unit]", "rows => rows.map(r => r.dataset.unit)")
    assert sorted(rows) == GROUP
    assert "Phường Long Biên" not in page.inner_text("main")

    communes = page.request.get(f"{live_server.url}/api/v1/stats/admin-units").json()["rows"]
    assert {row["code"]: row["lenses_active"] for row in communes} == {
        code: WITH_CAMERAS.get(code, 0) for code in GROUP
    }

    page.goto(f"{live_server.url}/figures?level=district")
    group_row = page.locator("tr[data-unit='HN-TT']")
    assert "Cụm phường trung tâm" in group_row.inner_text()
    figures = page.request.get(f"{live_server.url}/api/v1/stats/admin-units?level=district").json()
    [row] = figures["rows"]
    assert (row["code"], row["communes"], row["lenses_active"]) == ("HN-TT", 5, 4)  # Đống Đa 3 + Hoàn Kiếm 1
    page.screenshot(path=str(SCREENSHOTS / f"supervision-figures-{backend}.png"))
    assert page.foreign_requests == []
