"""Bounds on what an upload may expand to, checked before the memory is spent.

A 3 MB workbook can hold a sheet that inflates to gigabytes, and a 200 KB JSON
text can nest a hundred thousand arrays deep (Python's json then raises
RecursionError). The upload limit (UPLOAD_MAX_MB) bounds the bytes received,
not what they become; these checks bound that:

- a workbook (a zip) is inspected from its directory and then inflated as a
  stream, a chunk at a time, without trusting the sizes it declares: its total
  inflated size, each member's compression ratio and the worksheets' cells are
  counted, and the file is refused as soon as one passes its limit;
- JSON is refused when it nests deeper than `max_json_depth`.

Every refusal names the file or the field and the limit, so a clerk can split
the file or fix it.
"""

from __future__ import annotations

import json
import re
import struct
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from .errors import PayloadTooLarge, ValidationFailed
from .messages import Message, refusal

MB = 1024 * 1024
#: Members smaller than this when inflated are not judged by their ratio: tiny XML parts compress oddly well.
RATIO_GRACE_BYTES = 1 * MB
CHUNK = 1 * MB
#: A worksheet cell and row, with or without a namespace prefix (<c r="A1">, <x:c>, <row r="2">).
CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
TAG_TAIL = 64  # bytes kept from one chunk to the next, so a tag split between them is still seen once


@dataclass(frozen=True)
class UploadLimits:
    """What one register file may hold (docs/configuration.md: "Web, maps and uploads", IMPORT_*)."""

    max_rows: int = 200_000
    max_cells: int = 6_000_000
    max_uncompressed_bytes: int = 256 * MB
    max_compression_ratio: float = 100.0
    max_json_depth: int = 64

    @classmethod
    def from_config(cls, config: Mapping) -> UploadLimits:
        return cls(
            max_rows=config["IMPORT_MAX_ROWS"],
            max_cells=config["IMPORT_MAX_CELLS"],
            max_uncompressed_bytes=config["IMPORT_MAX_UNCOMPRESSED_MB"] * MB,
            max_compression_ratio=config["IMPORT_MAX_COMPRESSION_RATIO"],
            max_json_depth=config["JSON_MAX_DEPTH"],
        )


def too_large(reason: Message, field: str = "file") -> PayloadTooLarge:
    return PayloadTooLarge(refusal("the file is too large to import: %(reason)s", reason=reason), {field: [reason]})


def too_many_rows(max_rows: int) -> ValidationFailed:
    reason = refusal(
        "the file holds more than %(rows)s rows; split the register into smaller files", rows=f"{max_rows:,}"
    )
    return ValidationFailed(reason, {"file": [reason]})


def unreadable(reason: Message) -> ValidationFailed:
    """The file is no register the service can read; `reason` says why."""
    return ValidationFailed(refusal("the file cannot be read: %(reason)s", reason=reason), {"file": [reason]})


# --------------------------------------------------------------------------- JSON nesting


class TooDeep(ValueError):
    """JSON nested deeper than allowed."""


def depth_reason(max_depth: int) -> Message:
    return refusal("nested deeper than %(depth)s levels of arrays and objects", depth=max_depth)


def check_json_depth(value: Any, max_depth: int) -> None:
    """Raise TooDeep when `value` (parsed JSON) nests arrays and objects deeper than `max_depth`; no recursion."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise TooDeep(depth_reason(max_depth))
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def load_json(text: str | bytes, max_depth: int) -> Any:
    """json.loads, refusing a document that nests deeper than `max_depth` with TooDeep (a ValueError).

    The C parser stops with RecursionError near the interpreter's recursion
    limit, before it has built much; anything shallower is then walked without
    recursion.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise TooDeep(depth_reason(max_depth)) from None
    check_json_depth(value, max_depth)
    return value


# --------------------------------------------------------------------------- workbooks (zip archives)


def check_workbook(stream: BinaryIO, limits: UploadLimits) -> None:
    """Refuse a workbook that would inflate past the limits; a file that is no zip is left to the reader.

    The directory's declared sizes are checked first (cheap), then every
    member is inflated as a stream with its real size, its ratio and, for
    worksheets, its rows and cells counted, stopping at the first limit passed.
    Memory stays at a few chunks whatever the file holds. The stream is left
    where it was.
    """
    start = stream.tell()
    try:
        try:
            archive = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError):
            return  # not a workbook: the reader says so
        members = [info for info in archive.infolist() if not info.is_dir()]
        _check_declared(members, limits)
        inflated = 0
        for info in members:
            inflated += _inflate_member(stream, info, limits, inflated)
    finally:
        stream.seek(start)


def _limit_mb(limits: UploadLimits) -> str:
    return f"{limits.max_uncompressed_bytes / MB:g} MB"


def _check_declared(members: list[zipfile.ZipInfo], limits: UploadLimits) -> None:
    declared = sum(info.file_size for info in members)
    if declared > limits.max_uncompressed_bytes:
        raise too_large(
            refusal(
                "the workbook would expand to %(size)s MB, more than %(limit)s",
                size=f"{declared / MB:,.0f}",
                limit=_limit_mb(limits),
            )
        )
    for info in members:
        _check_ratio(info.filename, info.file_size, info.compress_size, limits)


def _check_ratio(name: str, inflated: int, compressed: int, limits: UploadLimits) -> None:
    if inflated > RATIO_GRACE_BYTES and inflated > limits.max_compression_ratio * max(compressed, 1):
        raise too_large(
            refusal(
                "part %(part)s of the workbook expands more than %(ratio)s times (a compression bomb, or not a "
                "spreadsheet)",
                part=name,
                ratio=f"{limits.max_compression_ratio:g}",
            )
        )


def _inflate_member(stream: BinaryIO, info: zipfile.ZipInfo, limits: UploadLimits, inflated_before: int) -> int:
    """Inflate one member as a stream; returns its real size, refusing as soon as a limit is passed."""
    stream.seek(info.header_offset)
    header = stream.read(30)
    if len(header) < 30 or header[:4] != b"PK\x03\x04":
        raise unreadable(refusal("not an XLSX workbook (a damaged zip)"))
    name_length, extra_length = struct.unpack("<HH", header[26:30])
    stream.seek(info.header_offset + 30 + name_length + extra_length)
    if info.compress_type == zipfile.ZIP_STORED:
        inflater = None
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    else:
        raise unreadable(
            refusal("part %(part)s of the workbook uses a compression Excel does not write", part=info.filename)
        )
    worksheet = info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml")
    counter = _TagCounter(limits) if worksheet else None
    size, remaining = 0, info.compress_size
    allowed = limits.max_uncompressed_bytes - inflated_before
    while remaining > 0:
        chunk = stream.read(min(CHUNK, remaining))
        if not chunk:
            break
        remaining -= len(chunk)
        while chunk:
            if inflater is None:
                data, chunk = chunk, b""
            else:
                data = inflater.decompress(chunk, CHUNK)
                chunk = inflater.unconsumed_tail
            size += len(data)
            if size > allowed:
                raise too_large(refusal("the workbook expands to more than %(limit)s", limit=_limit_mb(limits)))
            _check_ratio(info.filename, size, info.compress_size, limits)
            if counter is not None:
                counter.feed(data)
        if inflater is not None and inflater.eof:
            break
    return size


class _TagCounter:
    """Counts a worksheet's rows and cells as its XML streams by, refusing past the limits."""

    def __init__(self, limits: UploadLimits) -> None:
        self.limits = limits
        self.rows = self.cells = 0
        self.tail = b""

    def feed(self, data: bytes) -> None:
        text = self.tail + data
        # A tag that starts in the kept tail was counted last time unless it was cut off: count only tags that
        # start at or after the tail's end, or were cut (no full match inside the tail alone).
        skip = len(self.tail)
        self.cells += sum(1 for match in CELL_TAG.finditer(text) if match.end() > skip)
        self.rows += sum(1 for match in ROW_TAG.finditer(text) if match.end() > skip)
        self.tail = text[-TAG_TAIL:]
        if self.rows > self.limits.max_rows + 1:  # the header row
            raise too_many_rows(self.limits.max_rows)
        if self.cells > self.limits.max_cells:
            raise too_large(refusal("a sheet holds more than %(cells)s cells", cells=f"{self.limits.max_cells:,}"))
