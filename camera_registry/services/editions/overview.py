"""What the admins' editions page shows: the editions in force, and the bundled edition an administrator may load.

Read from the open units without their boundaries (only whether they have one): the page is about which edition
holds, not about the shapes.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import AdminLevel, AdminUnit
from .reader import BUNDLED_EDITION


@dataclass(frozen=True)
class EditionInForce:
    """The open units that came into force on one day (None: loaded before units carried a day)."""

    valid_from: date | None
    units: dict[str, int]  # by level
    #: "code name" of each province with at least one of these communes drawn with a boundary.
    provinces_with_boundaries: tuple[str, ...]


def editions_in_force(session: Session) -> list[EditionInForce]:
    """The open units grouped by the day they came into force, oldest first: each load opens its units on its day."""
    rows = session.execute(
        select(
            AdminUnit.id,
            AdminUnit.code,
            AdminUnit.name,
            AdminUnit.level,
            AdminUnit.parent_id,
            AdminUnit.valid_from,
            AdminUnit.boundary.is_not(None).label("drawn"),
        ).where(AdminUnit.valid_to.is_(None))
    ).all()
    by_id = {row.id: row for row in rows}

    def province_of(row):
        while row.parent_id is not None and row.parent_id in by_id:
            row = by_id[row.parent_id]
        return row

    counts: dict[date | None, Counter] = defaultdict(Counter)
    drawn: dict[date | None, set] = defaultdict(set)
    for row in rows:
        counts[row.valid_from][row.level.value] += 1
        if row.drawn and row.level == AdminLevel.COMMUNE:
            province = province_of(row)
            drawn[row.valid_from].add((province.code, province.name))
    return [
        EditionInForce(day, dict(counts[day]), tuple(f"{code} {name}" for code, name in sorted(drawn[day])))
        for day in sorted(counts, key=lambda day: day or date.min)
    ]


@dataclass(frozen=True)
class BundledEdition:
    """The edition shipped with the package: its name, its provinces, and those it draws with boundaries."""

    name: str
    provinces: tuple[tuple[str, str], ...]
    with_boundaries: tuple[str, ...]


@cache
def bundled_edition(directory: Path = BUNDLED_EDITION) -> BundledEdition:
    """The bundled edition's provinces from its unit list, and which have boundary files (named by code)."""
    (unit_list,) = sorted(directory.glob("vn_units_*.json*"))
    opener = gzip.open if unit_list.suffix == ".gz" else open
    with opener(unit_list, "rt", encoding="utf-8") as handle:
        provinces = tuple((row["Code"], row["FullName"]) for row in json.load(handle))
    drawn = {path.name.split("_", 1)[0] for path in directory.glob("*_wards.geojson*")}
    return BundledEdition(directory.name, provinces, tuple(code for code, _ in provinces if code in drawn))
