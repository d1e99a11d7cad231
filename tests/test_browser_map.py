"""Headless Chromium: staff read the coverage map, switch the choropleth, click a commune and a lens."""

from __future__ import annotations

from conftest import SCREENSHOTS
from test_browser_requests import sign_in

# A point inside the first shape matching a selector that nothing else covers (a cluster over a commune,
# a neighbour's wedge over a lens), so a real click lands on that shape.
FREE_POINT_IN = """selector => {
  for (const path of document.querySelectorAll(selector)) {
    const box = path.getBoundingClientRect();
    for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
      const x = box.left + box.width * i / 10, y = box.top + box.height * j / 10;
      if (document.elementFromPoint(x, y) === path) return [x, y];
    }
  }
  return null;
}"""


def fills(page) -> list[str]:
    return page.eval_on_selector_all("path.commune", "paths => paths.map(p => p.getAttribute('fill'))")


def test_staff_read_the_coverage_map(page, live_server, backend):
    sign_in(page, live_server, "staff.hanoi")
    page.click("header a:has-text('Bản đồ phủ camera')")
    page.wait_for_url(f"{live_server.url}/map")
    page.wait_for_selector("path.commune[data-commune='00226']")
    page.wait_for_selector(".lens-cluster")
    # Reach: the province's five wards, not Xã Chí Đám of Phú Thọ.
    assert page.locator("path.commune").count() == 5
    assert page.locator("path[data-commune='07915']").count() == 0
    assert "Tỷ lệ chia sẻ" in page.inner_text(".map-legend")
    by_rate = fills(page)

    page.check("input[name=mode][value=lens_density]")
    page.wait_for_selector(".map-legend[data-mode=lens_density]")
    assert "Mắt camera hoạt động / km²" in page.inner_text(".map-legend")
    assert fills(page) != by_rate

    page.mouse.click(*page.evaluate(FREE_POINT_IN, "path[data-commune='00226']"))
    figures = page.locator("#commune-figures[data-commune='00226']")
    figures.wait_for()
    assert "Phường Đống Đa" in figures.inner_text()
    assert "Tỷ lệ chia sẻ" in figures.inner_text() and "%" in figures.inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"map-{backend}.png"))

    # Zoomed in, lenses come one by one with their wedges; staff see no owner contacts.
    page.select_option("select[name=status]", "active")
    page.evaluate(
        "() => { const m = document.getElementById('coverage-map').leafletMap; m.setView([21.0178, 105.8270], 17); }"
    )
    page.wait_for_selector("path.map-lens")
    page.mouse.click(*page.evaluate(FREE_POINT_IN, "path.map-lens"))
    summary = page.locator("#lens-summary[data-lens]")
    summary.wait_for()
    assert "Đầu thu" in summary.inner_text() and "chỉ công an xã, phường" in summary.inner_text()
    assert "Điện thoại" not in summary.inner_text()
    assert page.foreign_requests == []
