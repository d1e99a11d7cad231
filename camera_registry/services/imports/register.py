"""The file as records: one entry per site, owner, recorder, lens and commitment, from the first row naming it.

Rows repeat their owner's, recorder's, site's and commitment's columns; a
later row that says otherwise is refused, naming the row that said it first.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from itertools import repeat
from typing import Any

from sqlalchemy.orm import Session

from ...models import AdminUnit, LensKind, LensStatus, OwnerKind
from ...timezones import local_today
from .. import rules
from ..access import Actor
from ..messages import Message, domain_term, refusal
from ..records import commune_refusal, unit_on
from ..registry import commune_locator
from .cells import LENS_KINDS, LENS_STATUSES, OWNER_KINDS, Row, positive
from .report import ErrorLog
from .writer import owner_commune

#: The cells each part of a row is read from (the commune code decides a site's and an owner's commune).
_PART_CELLS = {
    "site": ("commune_code", "site_code", "site_name"),
    "owner": (
        "commune_code",
        "owner_external_id",
        "owner_kind",
        "owner_name",
        "owner_phone",
        "owner_email",
        "owner_address",
    ),
    "recorder": (
        "recorder_external_id",
        "owner_external_id",
        "site_code",
        "retention_days",
        "recorder_make",
        "recorder_model",
        "recorder_lon",
        "recorder_lat",
    ),
    "commitment": ("owner_external_id", "commitment_signed_at", "commitment_valid_until"),
}
#: The cell holding the key a part hands to the next: the site's code, the owner's and the recorder's ids.
_PART_KEYS = {"site": "site_code", "owner": "owner_external_id", "recorder": "recorder_external_id"}

# The file column a clerk fixes when a stored or repeated value disagrees.
_FILE_COLUMNS = {
    "site": {"commune_id": "commune_code", "name": "site_name"},
    "owner": {
        "kind": "owner_kind",
        "name": "owner_name",
        "phone": "owner_phone",
        "email": "owner_email",
        "address": "owner_address",
        "commune_id": "commune_code",
    },
    "recorder": {
        "owner_external_id": "owner_external_id",
        "site_code": "site_code",
        "point": "recorder_lon",
        "retention_days": "retention_days",
        "make": "recorder_make",
        "model": "recorder_model",
    },
    "commitment": {"valid_until": "commitment_valid_until"},
}


@dataclass(slots=True)
class Entry:
    """One site, owner, recorder, lens or commitment as the file states it, from the first row naming it."""

    row: int
    values: dict[str, Any]


class Register:
    """Everything the file says, one entry per record, with the rows that disagree refused."""

    def __init__(self, session: Session, actor: Actor, columns: list[str], errors: ErrorLog):
        self.session = session
        self.actor = actor
        self.stated = set(columns)
        self.errors = errors
        self.today = local_today()
        self.sites: dict[str, Entry] = {}
        self.owners: dict[str, Entry] = {}
        self.recorders: dict[str, Entry] = {}
        self.lenses: dict[str, Entry] = {}
        self.commitments: dict[tuple[str, date], Entry] = {}
        self.first_lens_point: dict[str, tuple[float, float]] = {}
        self.commune_names: dict[int, str] = {}
        self._lens_rows: dict[str, int] = {}
        self._communes: dict[str, int | str] = {}  # code -> id, or why the code is refused
        self._accepted: set[tuple[str, ...]] = set()  # the parts of rows read without a refusal, by their cells

    def add_row(self, number: int, cells: dict[str, str]) -> None:
        row = Row(number, cells, self.errors)
        commune_id = self._commune(row)

        lens_id = row.text("lens_external_id", 64, required=True)
        if lens_id in self._lens_rows:
            row.refuse(
                "lens_external_id", f"lens {lens_id} is already on row {self._lens_rows[lens_id]}; one row per lens"
            )
            lens_id = None
        elif lens_id:
            self._lens_rows[lens_id] = number

        site_code = self._read_once(row, "site", lambda: self._site(row, commune_id))
        owner_id = self._read_once(row, "owner", lambda: self._owner(row, commune_id))
        recorder_id = self._read_once(row, "recorder", lambda: self._recorder(row, owner_id, site_code))
        self._lens(row, lens_id, recorder_id, commune_id)
        self._read_once(row, "commitment", lambda: self._commitment(row, owner_id))

    def _read_once(self, row: Row, part: str, read: Callable[[], str | None]) -> str | None:
        """Read one part of a row (its site, owner, recorder or commitment), unless an earlier row stated it in
        the very same cells and nothing in it was refused: read again, it would note nothing new and refuse
        nothing. A register repeats its owners' and recorders' columns on each of their lenses' rows; reading
        them on every row was most of the time a 55,000-row import spent checking.

        What a part reads depends only on its cells (the commune code among them), so the shortcut answers
        what reading would: the part's key, as its cell holds it.
        """
        stated = (part, *map(row.cells.get, _PART_CELLS[part], repeat("")))
        if stated in self._accepted:
            return row.cells[_PART_KEYS[part]] if part in _PART_KEYS else None
        refusals, errors = row.refusals, self.errors.count
        key = read()
        if row.refusals == refusals and self.errors.count == errors:
            self._accepted.add(stated)
        return key

    def _site(self, row: Row, commune_id: int | None) -> str | None:
        before = row.refusals
        site_code = row.text("site_code", 64, required=True)
        site = {"commune_id": commune_id}
        if "site_name" in self.stated and (site_name := row.text("site_name", 200)):
            site["name"] = site_name
        if row.refusals == before and commune_id is not None:
            self._note("site", self.sites, site_code, row.row, site)
        return site_code

    def _owner(self, row: Row, commune_id: int | None) -> str | None:
        before = row.refusals
        owner_id = row.text("owner_external_id", 64, required=True)
        owner = {
            "kind": row.choice("owner_kind", OWNER_KINDS),
            "name": row.text("owner_name", 200, required=True),
            "phone": row.phone(),
            "commune_id": owner_commune({"commune_id": commune_id}),
        }
        if "owner_email" in self.stated:
            owner["email"] = row.email()
        if "owner_address" in self.stated:
            owner["address"] = row.text("owner_address", 500)
        if row.refusals == before and commune_id is not None:
            self._note("owner", self.owners, owner_id, row.row, owner)
        return owner_id

    def _recorder(self, row: Row, owner_id: str | None, site_code: str | None) -> str | None:
        before = row.refusals
        recorder_id = row.text("recorder_external_id", 64, required=True)
        recorder = {
            "owner_external_id": owner_id,
            "site_code": site_code,
            "retention_days": row.whole_number("retention_days", rules.check_retention),
        }
        if "recorder_make" in self.stated:
            recorder["make"] = row.text("recorder_make", 100)
        if "recorder_model" in self.stated:
            recorder["model"] = row.text("recorder_model", 100)
        if ("recorder_lon" in self.stated or "recorder_lat" in self.stated) and (
            recorder_point := row.position("recorder_lon", "recorder_lat", required=False)
        ):
            recorder["point"] = recorder_point
        if row.refusals == before and owner_id and site_code:
            self._note("recorder", self.recorders, recorder_id, row.row, recorder)
        return recorder_id

    def _lens(self, row: Row, lens_id: str | None, recorder_id: str | None, commune_id: int | None) -> None:
        before = row.refusals
        lens = {
            "recorder_external_id": recorder_id,
            "point": row.position("lon", "lat", required=True),
            "commune_id": commune_id,
            "bearing_deg": row.number("bearing_deg", rules.check_bearing, required=False),
            "fov_deg": row.number("fov_deg", rules.check_fov),
            "range_m": row.number("range_m", rules.check_range),
            "status": row.choice("status", LENS_STATUSES),
        }
        if "height_m" in self.stated:
            lens["height_m"] = row.number("height_m", positive, required=False)
        if "lens_kind" in self.stated:
            lens["kind"] = row.choice("lens_kind", LENS_KINDS, default=LensKind.FIXED)
        if row.refusals == before and lens_id and recorder_id and commune_id is not None:
            self.lenses[lens_id] = Entry(row.row, lens)
            self.first_lens_point.setdefault(recorder_id, lens["point"])

    def _commitment(self, row: Row, owner_id: str | None) -> None:
        before = row.refusals
        signed = row.day("commitment_signed_at")
        valid_until = row.day("commitment_valid_until")
        if valid_until and not signed and not row.cells.get("commitment_signed_at"):
            row.refuse("commitment_signed_at", "is required when commitment_valid_until is given")
        if signed and signed > self.today:
            row.refuse("commitment_signed_at", f"{signed.isoformat()} lies in the future")
        if signed and valid_until and valid_until < signed:
            row.refuse(
                "commitment_valid_until", f"{valid_until.isoformat()} is before the signing date {signed.isoformat()}"
            )
        if row.refusals == before and signed and owner_id:
            self._note("commitment", self.commitments, (owner_id, signed), row.row, {"valid_until": valid_until})

    def _commune(self, row: Row) -> int | None:
        code = row.text("commune_code", 32, required=True)
        if code is None:
            return None
        if code not in self._communes:
            self._communes[code] = self._look_up_commune(code)
        found = self._communes[code]
        if isinstance(found, str):
            row.refuse("commune_code", found)
            return None
        if not self.actor.can_write(found):
            row.refuse(
                "commune_code",
                refusal("%(commune)s is outside the communes you may change", commune=self.commune_names[found]),
            )
            return None
        return found

    def _look_up_commune(self, code: str) -> int | Message:
        unit = unit_on(self.session, code, self.today)
        reason = commune_refusal(unit, code, self.today)
        if reason:
            return reason
        self.commune_names[unit.id] = unit.name
        return unit.id

    def _note(self, kind: str, entries: dict, key: Any, number: int, values: dict[str, Any]) -> None:
        """Keep the first row's values for a record; refuse later rows that say otherwise."""
        entry = entries.get(key)
        if entry is None:
            entries[key] = Entry(number, values)
            return
        for column, value in values.items():
            if column not in entry.values:
                entry.values[column] = value  # e.g. a recorder's position, stated on a later row only
            elif not same(entry.values[column], value):
                label = key[0] if kind == "commitment" else key
                self.errors.add(
                    number,
                    _FILE_COLUMNS[kind][column],
                    refusal(
                        "%(value)s here, but %(before)s for the same %(kind)s %(label)s on row %(row)s",
                        value=self._shown(column, value),
                        before=self._shown(column, entry.values[column]),
                        kind=domain_term(kind),
                        label=label,
                        row=entry.row,
                    ),
                )

    def _shown(self, column: str, value: Any) -> str:
        if value is None:
            return domain_term("blank")
        if column == "commune_id":
            return self.commune_names[value]
        if isinstance(value, (OwnerKind, LensKind, LensStatus)):
            return value.value
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, tuple):
            return f"({value[0]}, {value[1]})"
        return repr(value)

    def check_places(self) -> None:
        """Every lens, and every recorder given a position, must lie in its row's commune."""
        placed = [(entry, "lon", entry.values["commune_id"]) for entry in self.lenses.values()]
        for entry in self.recorders.values():
            owner = self.owners.get(entry.values["owner_external_id"])
            if "point" in entry.values and owner is not None:
                placed.append((entry, "recorder_lon", owner.values["commune_id"]))
        points = [entry.values["point"] for entry, _, _ in placed]
        found = commune_locator(self.session).locate_many([p[0] for p in points], [p[1] for p in points])
        for (entry, column, commune_id), point, located in zip(placed, points, found):
            if located != commune_id:
                where = (
                    refusal("it is in %(commune)s", commune=self.commune_name(located))
                    if located is not None
                    else refusal("it is in no current commune")
                )
                self.errors.add(
                    entry.row,
                    column,
                    refusal(
                        "%(point)s lies outside %(commune)s; %(where)s",
                        point=self._shown("point", point),
                        commune=self.commune_names[commune_id],
                        where=where,
                    ),
                )

    def commune_name(self, commune_id: int) -> str:
        if commune_id not in self.commune_names:
            self.commune_names[commune_id] = self.session.get(AdminUnit, commune_id).name
        return self.commune_names[commune_id]


def same(stored: Any, value: Any) -> bool:
    if isinstance(value, float) and isinstance(stored, (int, float)):
        return math.isclose(stored, value, rel_tol=0, abs_tol=1e-9)
    if isinstance(value, tuple) and isinstance(stored, tuple):
        return all(math.isclose(a, b, rel_tol=0, abs_tol=1e-9) for a, b in zip(stored, value))
    return stored == value
