"""The offline basemap: MAP_PMTILES_PATH checked at start-up, and /basemap.pmtiles served by Range requests to
signed-in staff only, from the configured file only."""

from __future__ import annotations

import tempfile
import tracemalloc

import pytest
from basemap_support import configure_basemap, raster_basemap, vector_basemap

import camera_registry
from camera_registry.geo.pmtiles import PMTilesError
from camera_registry.web import basemap

URL = "/basemap.pmtiles"


@pytest.fixture()
def archive(app, tmp_path, monkeypatch):
    """The app serving a tiny vector PMTiles basemap of Hà Nội: the file's path."""
    path = vector_basemap(tmp_path)
    configure_basemap(app, monkeypatch, path, "© OpenStreetMap")
    return path


def get(client, world, role="admin", method="GET", **headers):
    return client.open(URL, method=method, headers={**world.headers[role], **headers})


def test_the_whole_file_with_its_validators(client, world, archive):
    response = get(client, world)
    assert response.status_code == 200
    assert response.data == archive.read_bytes()
    assert response.headers["Accept-Ranges"] == "bytes"
    assert response.headers["Content-Length"] == str(archive.stat().st_size)
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert response.headers["Cache-Control"] == "private, no-cache"


@pytest.mark.parametrize(
    ("range_header", "start", "end"), [("bytes=0-126", 0, 126), ("bytes=100-", 100, None), ("bytes=-27", -27, None)]
)
def test_a_range_is_206_with_only_its_bytes(client, world, archive, range_header, start, end):
    content, size = archive.read_bytes(), archive.stat().st_size
    expected = content[start : None if end is None else end + 1]
    response = get(client, world, Range=range_header)
    assert response.status_code == 206
    assert response.data == expected
    first = start % size
    assert response.headers["Content-Range"] == f"bytes {first}-{first + len(expected) - 1}/{size}"
    assert response.headers["Content-Length"] == str(len(expected))


def test_a_range_past_the_end_is_416(client, world, archive):
    size = archive.stat().st_size
    response = get(client, world, Range=f"bytes={size}-{size + 100}")
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("range_header", ["bytes=0-9,20-29", "bytes=5-2", "bytes=abc", "items=0-5"])
def test_a_range_it_does_not_serve_gets_the_whole_file(client, world, archive, range_header):
    """Several ranges, a malformed one, another unit: ignored, as HTTP allows (and wants for the unit)."""
    response = get(client, world, Range=range_header)
    assert response.status_code == 200 and response.data == archive.read_bytes()


def test_a_range_of_a_large_file_reads_only_its_bytes(client, world, app, tmp_path, monkeypatch):
    large = tmp_path / "large.pmtiles"
    large.write_bytes(vector_basemap(tmp_path).read_bytes())
    with large.open("r+b") as archive:
        archive.truncate(256 * 1024 * 1024)  # sparse: a quarter gigabyte that takes no disk
        archive.seek(200_000_000)
        archive.write(b"the tile asked for")
    configure_basemap(app, monkeypatch, large)
    tracemalloc.start()
    try:
        response = get(client, world, Range="bytes=200000000-200000017")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 206 and response.data == b"the tile asked for"
    assert peak < 4 * 1024 * 1024


def test_head_answers_the_headers_alone(client, world, archive):
    response = get(client, world, method="HEAD")
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(archive.stat().st_size)
    assert response.headers["Accept-Ranges"] == "bytes"
    ranged = get(client, world, method="HEAD", Range="bytes=0-126")
    assert ranged.status_code == 206 and ranged.headers["Content-Length"] == "127"


def test_conditional_reads_are_304(client, world, archive):
    first = get(client, world)
    assert get(client, world, **{"If-None-Match": first.headers["ETag"]}).status_code == 304
    assert get(client, world, **{"If-Modified-Since": first.headers["Last-Modified"]}).status_code == 304
    # If-Range with the current ETag gives the range, with a stale one the whole (changed) file.
    assert get(client, world, Range="bytes=0-9", **{"If-Range": first.headers["ETag"]}).status_code == 206
    stale = get(client, world, Range="bytes=0-9", **{"If-Range": '"an-older-file"'})
    assert stale.status_code == 200 and stale.data == archive.read_bytes()


def test_every_signed_in_role_reads_it_and_nobody_else(client, world, archive):
    assert get(client, world, role="police_a", Range="bytes=0-6").data == b"PMTiles"
    anonymous = client.get(URL)
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert b"PMTiles" not in anonymous.data


def test_no_request_reaches_another_file(client, world, archive, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the map")
    for path in (f"{URL}/../secret.txt", f"{URL}/{secret}", f"/basemap/{secret.name}"):
        assert client.get(path, headers=world.headers["admin"]).status_code == 404
    # Parameters are ignored: the file is the configured one.
    response = client.get(f"{URL}?path={secret}", headers=world.headers["admin"])
    assert response.data == archive.read_bytes()


def test_without_a_basemap_file_the_route_is_404(client, world):
    assert get(client, world).status_code == 404


def test_pages_load_the_basemap_libraries_only_when_configured(client, world, app, tmp_path, monkeypatch):
    page = client.get("/map", headers=world.headers["admin"]).get_data(as_text=True)
    assert "maplibre-gl" not in page and "pmtiles-basemap" not in page
    configure_basemap(app, monkeypatch, raster_basemap(tmp_path))
    page = client.get("/map", headers=world.headers["admin"]).get_data(as_text=True)
    assert "vendor/maplibre-gl/maplibre-gl-csp.js" in page and "vendor/pmtiles/pmtiles.js" in page
    assert 'data-kind="raster"' in page and f'content="{URL}"' in page


def start_with(database_url, path) -> None:
    with tempfile.TemporaryDirectory() as instance:
        app = camera_registry.create_app(
            {"DATABASE_URL": database_url, "INSTANCE_PATH": instance, "SECRET_KEY": "x", "MAP_PMTILES_PATH": str(path)}
        )
        app.extensions["engine"].dispose()


def test_a_good_file_starts(database_url, tmp_path):
    start_with(database_url, vector_basemap(tmp_path))


def test_a_wrong_file_stops_the_start_with_the_reason(database_url, tmp_path):
    version_2 = tmp_path / "old.pmtiles"
    version_2.write_bytes(b"PM\x02" + bytes(200))
    version_2_magic = tmp_path / "v2-header.pmtiles"
    version_2_magic.write_bytes(b"PMTiles\x02" + bytes(200))
    text = tmp_path / "notes.pmtiles"
    text.write_text("a basemap, honest")
    short = tmp_path / "short.pmtiles"
    short.write_bytes(b"PMTiles\x03")
    unknown = tmp_path / "unknown.pmtiles"
    unknown.write_bytes(vector_basemap(tmp_path).read_bytes()[:99] + b"\x00" + bytes(27))
    cases = {
        tmp_path / "missing.pmtiles": "no such file",
        tmp_path: "is a directory",
        version_2: "not a PMTiles archive",
        text: "not a PMTiles archive",
        short: "not a PMTiles archive",
        version_2_magic: "PMTiles version 2; only version 3 is supported",
        unknown: "does not say what its tiles are",
    }
    for path, reason in cases.items():
        with pytest.raises(PMTilesError, match=reason) as refused:
            start_with(database_url, path)
        assert str(refused.value).startswith(f"MAP_PMTILES_PATH: {path}")


def test_the_policy_stays_strict_with_a_basemap_file(client, world, archive, app, monkeypatch):
    """MapLibre's worker and reads come from this origin; an XYZ server the PMTiles basemap replaces is not allowed."""
    monkeypatch.setitem(app.config, "MAP_TILE_URL", "https://tiles.example/{z}/{x}/{y}.png")
    policy = client.get("/map", headers=world.headers["admin"]).headers["Content-Security-Policy"]
    assert "tiles.example" not in policy and "blob:" not in policy and "worker-src" not in policy
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy


def test_a_file_taken_away_after_the_start_is_404(client, world, archive):
    archive.unlink()
    assert get(client, world).status_code == 404


def test_without_an_attribution_setting_the_archive_credits_itself_as_plain_text(app, tmp_path, monkeypatch):
    credit = (
        '<a href="https://protomaps.com">Protomaps</a> © <a href="https://openstreetmap.org">OSM</a><script>x</script>'
    )
    configure_basemap(app, monkeypatch, vector_basemap(tmp_path, attribution=credit))
    assert app.extensions[basemap.EXTENSION].attribution == "Protomaps © OSM x"
    # The operator's setting is taken as written, as MAP_TILE_ATTRIBUTION is.
    configure_basemap(app, monkeypatch, vector_basemap(tmp_path, attribution=credit), '<a href="/about">OSM</a>')
    assert app.extensions[basemap.EXTENSION].attribution == '<a href="/about">OSM</a>'


def test_the_start_says_which_basemap_is_in_use(app, tmp_path, monkeypatch, caplog):
    path = vector_basemap(tmp_path)
    with caplog.at_level("INFO", logger="camera_registry.basemap"):
        configure_basemap(app, monkeypatch, path)
    assert f"basemap: the PMTiles archive {path}, vector (mvt), zoom 10-15" in caplog.text
