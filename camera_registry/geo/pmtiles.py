"""The header of a PMTiles v3 archive: what a basemap file holds, read without reading the file.

A PMTiles archive is one file of map tiles that a browser reads by HTTP Range requests, so a basemap
needs no tile server. Only the fixed 127-byte header is read here, to refuse a wrong file at start-up
and to tell the pages whether the tiles are vector (MVT) or raster images.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = b"PMTiles"
HEADER_LENGTH = 127
SUPPORTED_VERSION = 3
#: The header's tile type byte, by the specification: 0 is "unknown", which no map can draw.
TILE_KINDS = {
    1: ("vector", "mvt"),
    2: ("raster", "png"),
    3: ("raster", "jpeg"),
    4: ("raster", "webp"),
    5: ("raster", "avif"),
}
#: min zoom, max zoom, then min lon, min lat, max lon, max lat in 1e-7 degrees (offsets 100 to 117).
_ZOOMS_AND_BOUNDS = struct.Struct("<BBiiii")


class PMTilesError(ValueError):
    """The file cannot be a basemap; the message says why, for the person who configured it."""


@dataclass(frozen=True)
class PMTilesHeader:
    kind: str  # "vector" or "raster"
    tile_format: str  # mvt, png, jpeg, webp or avif
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # west, south, east, north in degrees

    def describe(self) -> str:
        return f"{self.kind} ({self.tile_format}), zoom {self.min_zoom}-{self.max_zoom}"


def read_header(path: Path) -> PMTilesHeader:
    """The header of the PMTiles v3 archive at `path`, or PMTilesError naming what is wrong with it."""
    try:
        with path.open("rb") as archive:
            header = archive.read(HEADER_LENGTH)
    except FileNotFoundError:
        raise PMTilesError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise PMTilesError(f"{path}: is a directory, not a .pmtiles file") from None
    except OSError as error:
        raise PMTilesError(f"{path}: cannot be read ({error.strerror})") from None
    if len(header) < HEADER_LENGTH or not header.startswith(MAGIC):
        raise PMTilesError(f"{path}: not a PMTiles archive (its header does not start with 'PMTiles')")
    if header[7] != SUPPORTED_VERSION:
        raise PMTilesError(
            f"{path}: PMTiles version {header[7]}; only version 3 is supported (convert it with `pmtiles convert`)"
        )
    if header[99] not in TILE_KINDS:
        raise PMTilesError(f"{path}: the archive does not say what its tiles are (tile type {header[99]})")
    kind, tile_format = TILE_KINDS[header[99]]
    min_zoom, max_zoom, *bounds = _ZOOMS_AND_BOUNDS.unpack_from(header, 100)
    west, south, east, north = (value / 10_000_000 for value in bounds)
    return PMTilesHeader(kind, tile_format, min_zoom, max_zoom, (west, south, east, north))
