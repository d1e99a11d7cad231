"""Tiny PMTiles basemaps the tests make themselves, over Hà Nội's Đống Đa (the bundled sample's wards).

The vector one holds what `pmtiles extract` of a Protomaps build holds, in that schema's layer names
(earth, water, roads, buildings), so the maps' default style draws it; the raster one holds PNG tiles.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import mapbox_vector_tile
from pmtiles.tile import Compression, TileType, zxy_to_tileid
from pmtiles.writer import Writer
from soak_support import tile_of

from camera_registry.web import basemap

#: West, south, east and north of the archives: Quận Đống Đa and its neighbours.
HANOI_BOUNDS = (105.78, 20.98, 105.88, 21.06)
MIN_ZOOM, MAX_ZOOM = 10, 15
#: The name the vector tiles give their road, which the maps must label.
STREET_NAME = "Phố Tây Sơn"
#: The colour of the raster tiles, red enough to be found on a screenshot.
RASTER_RGB = (220, 40, 40)


def tiles_over(bounds: tuple[float, float, float, float], zoom: int) -> list[tuple[int, int, int]]:
    """The (z, x, y) of the Web Mercator tiles that cover `bounds` at `zoom`."""
    west, south, east, north = bounds
    _, first_x, first_y = tile_of(west, north, zoom)
    _, last_x, last_y = tile_of(east, south, zoom)
    return [(zoom, x, y) for x in range(first_x, last_x + 1) for y in range(first_y, last_y + 1)]


def streets_tile() -> bytes:
    """One gzipped MVT in the Protomaps schema: land everywhere, water on its west half, a named major road
    across and a block of buildings."""
    return gzip.compress(
        mapbox_vector_tile.encode(
            [
                {"name": "earth", "features": [{"geometry": "POLYGON ((0 0, 4096 0, 4096 4096, 0 4096, 0 0))"}]},
                {
                    "name": "water",
                    "features": [
                        {"geometry": "POLYGON ((0 0, 2048 0, 2048 4096, 0 4096, 0 0))", "properties": {"kind": "lake"}}
                    ],
                },
                {
                    "name": "roads",
                    "features": [
                        {
                            "geometry": "LINESTRING (0 3000, 4096 3000)",
                            "properties": {"kind": "major_road", "name": STREET_NAME},
                        }
                    ],
                },
                {
                    "name": "buildings",
                    "features": [
                        {
                            "geometry": "POLYGON ((2500 500, 3500 500, 3500 1500, 2500 1500, 2500 500))",
                            "properties": {"kind": "building"},
                        }
                    ],
                },
            ]
        ),
        mtime=0,
    )


def solid_png(rgb: tuple[int, int, int], size: int = 256) -> bytes:
    """A PNG of one colour, written by hand: the tests have no imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def write_pmtiles(
    path: Path, tile: bytes, tile_type: TileType, compression: Compression, attribution: str = "test tiles"
) -> Path:
    """A PMTiles v3 archive at `path` with `tile` at every position over HANOI_BOUNDS, zoom 10 to 15, crediting
    `attribution` in its metadata."""
    positions = sorted(
        zxy_to_tileid(*position)
        for zoom in range(MIN_ZOOM, MAX_ZOOM + 1)
        for position in tiles_over(HANOI_BOUNDS, zoom)
    )
    west, south, east, north = (round(degrees * 10_000_000) for degrees in HANOI_BOUNDS)
    with path.open("wb") as archive:
        writer = Writer(archive)
        for tile_id in positions:
            writer.write_tile(tile_id, tile)
        writer.finalize(
            {
                "tile_type": tile_type,
                "tile_compression": compression,
                "min_lon_e7": west,
                "min_lat_e7": south,
                "max_lon_e7": east,
                "max_lat_e7": north,
                "center_zoom": 14,
            },
            {"attribution": attribution, "vector_layers": []},
        )
    return path


def vector_basemap(directory: Path, attribution: str = "test tiles") -> Path:
    return write_pmtiles(directory / "hanoi.pmtiles", streets_tile(), TileType.MVT, Compression.GZIP, attribution)


def raster_basemap(directory: Path) -> Path:
    return write_pmtiles(directory / "hanoi-raster.pmtiles", solid_png(RASTER_RGB), TileType.PNG, Compression.NONE)


def configure_basemap(app, monkeypatch, path: Path, attribution: str = "") -> None:
    """Point the app at a PMTiles archive as MAP_PMTILES_PATH does at start-up; monkeypatch undoes it."""
    monkeypatch.setitem(app.config, "MAP_PMTILES_PATH", str(path))
    monkeypatch.setitem(app.config, "MAP_PMTILES_ATTRIBUTION", attribution)
    monkeypatch.setitem(app.extensions, basemap.EXTENSION, None)
    basemap.load(app)
