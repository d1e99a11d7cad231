"""A register's columns, and one data row read cell by cell: text, phones, numbers, choices, days and positions.

Each refused cell is logged with its row and column, in the clerk's terms
("is not a number", "give both lon and lat"), and reads as None, so one pass
over a row reports all of its problems.
"""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from ...models import LensKind, LensStatus, OwnerKind
from .. import rules
from ..channels.phones import PhoneError, normalise_phone
from ..messages import Message, refusal
from .report import ErrorLog

REQUIRED_COLUMNS = (
    "commune_code",
    "site_code",
    "owner_external_id",
    "owner_kind",
    "owner_name",
    "owner_phone",
    "recorder_external_id",
    "retention_days",
    "lens_external_id",
    "lon",
    "lat",
    "bearing_deg",
    "fov_deg",
    "range_m",
    "status",
    "commitment_signed_at",
    "commitment_valid_until",
)
OPTIONAL_COLUMNS = (
    "owner_email",
    "owner_address",
    "site_name",
    "recorder_make",
    "recorder_model",
    "recorder_lon",
    "recorder_lat",
    "height_m",
    "lens_kind",
)
OWNER_KINDS = {
    "household": OwnerKind.HOUSEHOLD,
    "hộ gia đình": OwnerKind.HOUSEHOLD,
    "agency": OwnerKind.AGENCY,
    "cơ quan": OwnerKind.AGENCY,
    "business": OwnerKind.BUSINESS,
    "doanh nghiệp": OwnerKind.BUSINESS,
}
#: The reason of an empty cell that a column needs.
REQUIRED = refusal("is required")

LENS_KINDS = {kind.value: kind for kind in LensKind}
LENS_STATUSES = {status.value: status for status in LensStatus}


def header_is_complete(columns: list[str], errors: ErrorLog) -> bool:
    known = {*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS}
    seen: set[str] = set()
    for column in columns:
        if column in seen and column in known:
            errors.add(1, column, "appears twice in the header")
        seen.add(column)
    for column in REQUIRED_COLUMNS:
        if column not in seen:
            errors.add(1, column, "required column is missing from the header")
    return errors.count == 0


class Row:
    """One data row, read cell by cell; each refusal is logged with the row and column."""

    def __init__(self, number: int, cells: dict[str, str], errors: ErrorLog):
        self.row = number
        self.cells = cells
        self.errors = errors
        self.refusals = 0

    def refuse(self, column: str, reason: Message) -> None:
        self.errors.add(self.row, column, reason)
        self.refusals += 1

    def text(self, column: str, max_length: int, *, required: bool = False) -> str | None:
        value = self.cells.get(column, "")
        if not value:
            if required:
                self.refuse(column, REQUIRED)
            return None
        if len(value) > max_length:
            self.refuse(
                column,
                refusal("is %(length)s characters long; at most %(most)s fit", length=len(value), most=max_length),
            )
            return None
        return value

    def email(self) -> str | None:
        value = self.text("owner_email", 254)
        if value is not None and ("@" not in value or " " in value):
            self.refuse("owner_email", refusal("%(value)s is not an e-mail address", value=repr(value)))
            return None
        return value

    def phone(self) -> str | None:
        """The owner's number as stored, 84XXXXXXXXX: only a mobile number can be sent a request."""
        value = self.text("owner_phone", 32, required=True)
        if value is None:
            return None
        try:
            return normalise_phone(value)
        except PhoneError as error:
            self.refuse("owner_phone", refusal("%(value)s: %(reason)s", value=repr(value), reason=error.args[0]))
            return None

    def number(
        self, column: str, check: Callable[[float], str | None] | None = None, *, required: bool = True
    ) -> float | None:
        value = self.cells.get(column, "")
        if not value:
            if required:
                self.refuse(column, REQUIRED)
            return None
        # A Vietnamese-locale sheet writes a decimal comma: 105,826.
        written = value.replace(",", ".") if "," in value and "." not in value else value
        try:
            number = float(written)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            self.refuse(column, refusal("%(value)s is not a number", value=repr(value)))
            return None
        reason = check(number) if check else None
        if reason:
            self.refuse(column, reason)
            return None
        return number

    def whole_number(self, column: str, check: Callable[[int], str | None]) -> int | None:
        number = self.number(column)
        if number is None:
            return None
        if not number.is_integer():
            self.refuse(column, refusal("%(value)s is not a whole number", value=repr(self.cells[column])))
            return None
        reason = check(int(number))
        if reason:
            self.refuse(column, reason)
            return None
        return int(number)

    def choice(self, column: str, choices: Mapping[str, Any], *, default: Any = None) -> Any:
        value = self.cells.get(column, "")
        if not value:
            if default is None:
                self.refuse(column, REQUIRED)
            return default
        chosen = choices.get(unicodedata.normalize("NFC", value).lower())
        if chosen is None:
            self.refuse(
                column, refusal("%(value)s is not one of: %(choices)s", value=repr(value), choices=", ".join(choices))
            )
        return chosen

    def day(self, column: str) -> date | None:
        value = self.cells.get(column, "")
        if not value:
            return None
        try:
            if "/" in value:
                day, month, year = value.split("/")
                return date(int(year), int(month), int(day))
            return date.fromisoformat(value)
        except ValueError:
            self.refuse(column, refusal("%(value)s is not a date; write yyyy-mm-dd or dd/mm/yyyy", value=repr(value)))
            return None

    def position(self, lon_column: str, lat_column: str, *, required: bool) -> tuple[float, float] | None:
        lon_text, lat_text = self.cells.get(lon_column), self.cells.get(lat_column)
        if not required and not (lon_text and lat_text):
            if lon_text or lat_text:
                self.refuse(
                    lat_column if lon_text else lon_column,
                    refusal("give both %(lon)s and %(lat)s, or neither", lon=lon_column, lat=lat_column),
                )
            return None
        lon, lat = self.number(lon_column), self.number(lat_column)
        if lon is None or lat is None:
            return None
        reason = rules.check_lon_lat(lon, lat)
        if reason:
            inside_lon = rules.VIETNAM_EXTENT[0] <= lon <= rules.VIETNAM_EXTENT[2]
            self.refuse(lat_column if inside_lon else lon_column, reason)
            return None
        return lon, lat


def positive(number: float) -> Message | None:
    return None if number > 0 else refusal("%(number)s must be above 0", number=number)
