"""Headless Chromium: staff read the coverage map, switch the choropleth, click a commune and a lens."""

from __future__ import annotations

from browser_support import free_point_in, sign_in, zoom_coverage_map
from conftest import SCREENSHOTS


def fills(page) -> list[str]:
    return page.eval_on_selector_all("path.commune", "paths => paths.map(p => p.getAttribute('fill'))")


def test_staff_read_the_coverage_map(page, live_server, backend):
    sign_in(page, live_server, "staff.hanoi")
    page.click("header a:has-text('Bản đồ phủ camera')")
    page.wait_for_url(f"{live_server.url}/map")
    page.wait_for_selector("path.commune[data-commune='00235']")
    page.wait_for_selector(".lens-cluster")
    # Reach: all 126 communes of the province, not Xã Chí Đám of Phú Thọ.
    assert page.locator("path.commune").count() == 126
    assert page.locator("path[data-commune='07999']").count() == 0
    assert "Tỷ lệ chia sẻ" in page.inner_text(".map-legend")
    by_rate = fills(page)

    page.check("input[name=mode][value=lens_density]")
    page.wait_for_selector(".map-legend[data-mode=lens_density]")
    assert "Mắt camera hoạt động / km²" in page.inner_text(".map-legend")
    assert fills(page) != by_rate

    zoom_coverage_map(page, 15, "path.commune[data-commune='00235']")  # a ward is a few pixels of the whole city
    page.mouse.click(*free_point_in(page, "path[data-commune='00235']"))
    figures = page.locator("#commune-figures[data-commune='00235']")
    figures.wait_for()
    assert "Phường Đống Đa" in figures.inner_text()
    assert "Tỷ lệ chia sẻ" in figures.inner_text() and "%" in figures.inner_text()
    page.screenshot(path=str(SCREENSHOTS / f"map-{backend}.png"))

    # Zoomed in, lenses come one by one with their wedges; staff see no owner contacts.
    page.select_option("select[name=status]", "active")
    zoom_coverage_map(page, 17, "path.map-lens")
    page.mouse.click(*free_point_in(page, "path.map-lens"))
    summary = page.locator("#lens-summary[data-lens]")
    summary.wait_for()
    assert "Đầu thu" in summary.inner_text() and "chỉ công an xã, phường" in summary.inner_text()
    assert "Điện thoại" not in summary.inner_text()
    assert page.foreign_requests == []
