"""What a PMTiles v3 archive holds, read without reading the file: its header and its metadata's credit.

A PMTiles archive is one file of map tiles that a browser reads by HTTP Range requests, so a basemap
needs no tile server. Only the fixed 127-byte header and the metadata are read here, to refuse a wrong
file at start-up, to tell the pages whether the tiles are vector (MVT) or raster images, and to credit
the data's source as the archive itself does.
"""

from __future__ import annotations

import gzip
import json
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
#: Where the metadata (JSON) lies: offset and length (offsets 24 to 39).
_METADATA = struct.Struct("<QQ")
#: The header's internal compression byte (offset 97): the metadata is read when plain or gzipped.
NO_COMPRESSION, GZIP = 1, 2
#: Larger metadata is not read for its credit (a Protomaps build's is a few kB).
METADATA_MAX_BYTES = 1024 * 1024
#: min zoom, max zoom, then min lon, min lat, max lon, max lat in 1e-7 degrees (offsets 100 to 117).
_ZOOMS_AND_BOUNDS = struct.Struct("<BBiiii")


class PMTilesError(ValueError):
    """The file cannot be a basemap; the message says why, for the person who configured it."""


@dataclass(frozen=True)
class PMTilesArchive:
    kind: str  # "vector" or "raster"
    tile_format: str  # mvt, png, jpeg, webp or avif
    min_zoom: int
    max_zoom: int
    bounds: tuple[float, float, float, float]  # west, south, east, north in degrees
    attribution: str  # the metadata's `attribution`, as it is (often HTML); "" without one

    def describe(self) -> str:
        return f"{self.kind} ({self.tile_format}), zoom {self.min_zoom}-{self.max_zoom}"


def read_archive(path: Path) -> PMTilesArchive:
    """What the PMTiles v3 archive at `path` holds, or PMTilesError naming what is wrong with it."""
    try:
        with path.open("rb") as archive:
            header = archive.read(HEADER_LENGTH)
            if len(header) == HEADER_LENGTH and header.startswith(MAGIC):
                metadata_offset, metadata_length = _METADATA.unpack_from(header, 24)
                archive.seek(metadata_offset)
                metadata = archive.read(min(metadata_length, METADATA_MAX_BYTES + 1))
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
    return PMTilesArchive(
        kind, tile_format, min_zoom, max_zoom, (west, south, east, north), _attribution(metadata, header[97])
    )


def _attribution(metadata: bytes, compression: int) -> str:
    """The metadata's credit; "" when it has none or cannot be read (the tiles still draw without it)."""
    if len(metadata) > METADATA_MAX_BYTES or compression not in (NO_COMPRESSION, GZIP):
        return ""
    try:
        document = json.loads(gzip.decompress(metadata) if compression == GZIP else metadata)
    except (OSError, EOFError, ValueError):
        return ""
    attribution = document.get("attribution") if isinstance(document, dict) else None
    return attribution if isinstance(attribution, str) else ""
