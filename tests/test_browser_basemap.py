"""Headless Chromium: the staff map and the new-request map draw the offline PMTiles basemap (MapLibre reads the
archive by Range requests and paints it under the boundaries), and with no basemap the boundaries stay the base."""

from __future__ import annotations

import base64

import pytest
from basemap_support import HANOI_BOUNDS, RASTER_RGB, STREET_NAME, configure_basemap, raster_basemap, vector_basemap
from browser_support import sign_in, wait_until
from conftest import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS

#: Protomaps' light flavour: the colours of water and land the default style paints.
WATER_RGB, EARTH_RGB = (0x80, 0xDE, 0xEA), (0xE2, 0xDF, 0xDA)


def on_maplibre(body: str) -> str:
    """A function of [id, ...] for page.evaluate: `body` runs with `gl`, the MapLibre map inside the Leaflet map of
    the element `id` (null before it is added)."""
    return (
        "([id, ...args]) => { let gl = null; document.getElementById(id).leafletMap.eachLayer("
        "layer => { if (layer.getMaplibreMap) gl = layer.getMaplibreMap(); }); " + body + " }"
    )


# It has caught up with Leaflet's view (the layer follows it a moment later), and its style and every tile in that
# view have loaded.
BASEMAP_LOADED = on_maplibre(
    "if (gl === null) return false;"
    " const want = document.getElementById(id).leafletMap.getCenter(), got = gl.getCenter();"
    " return Math.abs(got.lat - want.lat) < 1e-5 && Math.abs(got.lng - want.lng) < 1e-5"
    " && gl.loaded() && gl.areTilesLoaded();"
)
# Features of every layer named in args are drawn.
DRAWN = on_maplibre(
    "const drawn = new Set(gl.queryRenderedFeatures().map(f => f.sourceLayer)); return args.every(l => drawn.has(l));"
)
# A label showing args[0] is placed.
LABELLED = on_maplibre(
    "return gl.queryRenderedFeatures().some(f => f.layer.type === 'symbol' && f.properties.name === args[0]);"
)

# How many pixels of a PNG (base64) are within 12 of each colour, read back through a 2D canvas.
PIXELS_OF = """async ([png, colours]) => {
  const image = new Image();
  image.src = "data:image/png;base64," + png;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width; canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
  return colours.map(([r, g, b]) => {
    let count = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (Math.abs(data[i] - r) <= 12 && Math.abs(data[i + 1] - g) <= 12 && Math.abs(data[i + 2] - b) <= 12) count++;
    }
    return count;
  });
}"""
HIDE_OVERLAYS = ".leaflet-map-pane > .leaflet-pane:not(.leaflet-tile-pane) { visibility: hidden; }"


@pytest.fixture(scope="module")
def browser():
    """Chromium with WebGL from SwiftShader, which MapLibre needs: the suite's shared browser turns the GPU off."""
    from playwright.sync_api import sync_playwright

    args = [arg for arg in CHROMIUM_ARGS if arg != "--disable-gpu"]
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[*args, "--use-angle=swiftshader", "--enable-unsafe-swiftshader"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def serve_basemap(live_server, monkeypatch):
    """Configure the live server with a PMTiles archive, as MAP_PMTILES_PATH does at start-up."""
    return lambda path, attribution="": configure_basemap(live_server.app, monkeypatch, path, attribution)


@pytest.fixture()
def archive_reads(page):
    """The answers to the page's reads of /basemap.pmtiles: (status, Range asked, Content-Range answered)."""
    reads = []
    page.on(
        "response",
        lambda response: (
            response.url.endswith("/basemap.pmtiles")
            and reads.append(
                (response.status, response.request.headers.get("range"), response.headers.get("content-range"))
            )
        ),
    )
    return reads


@pytest.fixture()
def csp_violations(page):
    violations = []
    page.on("console", lambda message: "Content Security Policy" in message.text and violations.append(message.text))
    return violations


def look_at_the_archive(page, map_id: str) -> None:
    """Centre the map on the archive's tiles at zoom 14 (wherever the sample's communes lie) and wait until MapLibre
    has drawn them."""
    west, south, east, north = HANOI_BOUNDS
    page.evaluate(
        "([id, lat, lon]) => { document.getElementById(id).leafletMap.setView([lat, lon], 14); }",
        [map_id, (south + north) / 2, (west + east) / 2],
    )
    wait_until(page, BASEMAP_LOADED, [map_id])


def pixels(page, selector: str, *colours) -> list[int]:
    """How many pixels of the basemap alone (the boundaries and lenses hidden) are of each colour."""
    page.add_style_tag(content=HIDE_OVERLAYS)
    png = base64.b64encode(page.locator(selector).screenshot()).decode()
    return page.evaluate(PIXELS_OF, [png, [list(colour) for colour in colours]])


def test_the_staff_map_draws_the_vector_basemap(
    page, live_server, serve_basemap, archive_reads, csp_violations, tmp_path
):
    serve_basemap(vector_basemap(tmp_path), attribution="© OpenStreetMap")
    sign_in(page, live_server, "staff.hanoi")
    page.goto(f"{live_server.url}/map")
    page.wait_for_selector("path.commune")
    page.wait_for_selector("#coverage-map canvas.maplibregl-canvas")
    look_at_the_archive(page, "coverage-map")

    # The streets, water and buildings of the archive are drawn, read a range at a time.
    wait_until(page, DRAWN, ["coverage-map", "buildings", "earth", "roads", "water"])
    wait_until(page, LABELLED, ["coverage-map", STREET_NAME])  # in the browser's own font: no glyph files
    assert archive_reads and all(status == 206 and asked and answered for status, asked, answered in archive_reads)
    assert "© OpenStreetMap" in page.inner_text("#coverage-map .leaflet-control-attribution")
    assert page.locator("path.commune").count() > 1  # the boundaries of the province's wards, drawn over it
    page.screenshot(path=str(SCREENSHOTS / "map-pmtiles.png"))
    water, earth = pixels(page, "#coverage-map", WATER_RGB, EARTH_RGB)
    assert water > 10_000 and earth > 1_000
    assert csp_violations == [] and page.foreign_requests == []


def test_the_new_request_map_draws_the_raster_basemap(
    page, live_server, serve_basemap, archive_reads, csp_violations, tmp_path
):
    serve_basemap(raster_basemap(tmp_path))
    sign_in(page, live_server, live_server.username)
    page.goto(f"{live_server.url}/requests/new")
    page.wait_for_selector("#incident-map path.leaflet-interactive")
    page.wait_for_selector("#incident-map canvas.maplibregl-canvas")
    look_at_the_archive(page, "incident-map")

    assert archive_reads and all(status == 206 for status, _, _ in archive_reads)
    wait_until(
        page,
        "() => document.querySelector('#incident-map .leaflet-control-attribution').textContent.includes('test tiles')",
    )  # no MAP_PMTILES_ATTRIBUTION: the archive's own credit
    (red,) = pixels(page, "#incident-map", RASTER_RGB)
    assert red > 10_000
    assert csp_violations == [] and page.foreign_requests == []


def test_without_a_basemap_the_boundaries_are_the_base(page, live_server, archive_reads):
    sign_in(page, live_server, live_server.username)
    page.goto(f"{live_server.url}/map")
    page.wait_for_selector("path.commune")
    assert page.locator("canvas.maplibregl-canvas").count() == 0
    assert page.evaluate("typeof maplibregl") == "undefined"

    page.goto(f"{live_server.url}/requests/new")
    page.wait_for_selector("#incident-map path.leaflet-interactive")
    assert page.locator("canvas.maplibregl-canvas, #incident-map .leaflet-tile").count() == 0
    assert archive_reads == []
