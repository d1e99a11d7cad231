"""Headless Chromium: staff switch on what the lenses see, get a hint when zoomed out, see each commune's seen and
shared unions drawn with their legend, and a commune's shares of its area seen on a click, in Vietnamese and in
English."""

from __future__ import annotations

import pytest
from browser_support import free_point_in, on_live_database, sign_in, wait_for_language, zoom_coverage_map
from conftest import SCREENSHOTS

from camera_registry.models.base import utcnow
from camera_registry.services import commune_figures
from camera_registry.services.commune_coverage import refresh_coverage
from camera_registry.services.coverage import COVERAGE_MIN_ZOOM

WORDS = {
    "vi": (
        "Vùng mắt camera nhìn thấy",
        "Phóng to bản đồ",
        "trong tầm nhìn của mắt camera có cam kết chia sẻ",
        "Tỷ lệ diện tích mắt camera đang hoạt động quan sát được",
    ),
    "en": (
        "What the lenses see",
        "Zoom in",
        "seen by a lens under a sharing commitment",
        "Share of the area seen by active lenses",
    ),
}
DONG_DA_SHARED = "path.coverage-union[data-union=shared_seen][data-commune='00235']"


@pytest.fixture(scope="module")
def computed(live_server):
    """The scheduler's two refreshes on the live sample: every commune's coverage computed, none stale."""

    def refresh(session):
        now = utcnow()
        commune_figures.refresh(session, now)
        return refresh_coverage(session, now)

    assert on_live_database(live_server, refresh)["coverage_stored"] > 0


@pytest.mark.parametrize("language", ["vi", "en"])
def test_staff_see_what_the_lenses_see_of_each_commune(page, live_server, backend, computed, language):
    sign_in(page, live_server, "staff.hanoi")
    page.goto(f"{live_server.url}/map?lang={language}")
    wait_for_language(page, language)
    title, zoom_in, shared, seen_share = WORDS[language]
    zoom_coverage_map(page, COVERAGE_MIN_ZOOM - 1, "path.commune[data-commune='00235']")
    page.check("#map-layers input[name=coverage]")
    hint = page.locator(".coverage-legend[data-state=zoom_in]")
    hint.wait_for()
    assert title in hint.inner_text() and zoom_in in hint.inner_text()
    assert page.locator("path.coverage-union").count() == 0

    zoom_coverage_map(page, 15, DONG_DA_SHARED)
    legend = page.locator(".coverage-legend[data-state=drawn]")
    legend.wait_for()
    assert shared in legend.inner_text() and zoom_in not in legend.inner_text()
    fills = page.eval_on_selector_all(
        "path.coverage-union[data-commune='00235']", "ps => ps.map(p => [p.dataset.union, p.getAttribute('fill')])"
    )
    assert {union for union, _ in fills} == {"seen", "shared_seen"}
    assert len({fill for _, fill in fills}) == 2  # two shades
    # The unions let clicks through to the commune, whose figures now say how much of it is seen.
    page.mouse.click(*free_point_in(page, "path.commune[data-commune='00235']"))
    figures = page.locator("#commune-figures[data-commune='00235']")
    figures.wait_for()
    share = figures.locator(f"dt:text-is('{seen_share}') + dd").inner_text()
    assert share.endswith("%") and share != "0 %", share
    page.screenshot(path=str(SCREENSHOTS / f"map-coverage-{language}-{backend}.png"))

    page.uncheck("#map-layers input[name=coverage]")
    page.wait_for_selector("path.coverage-union", state="detached")
    assert page.locator(".coverage-legend").count() == 0
    assert page.foreign_requests == []
