"""The figures table as people read it, on the figures page and in its CSV/XLSX downloads: every column with its
translated header, each admin level's label, and the name of the spreadsheet's sheet."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

from flask_babel import gettext, lazy_gettext

from ..models import AdminLevel


@dataclass(frozen=True)
class Column:
    name: str  # the field in the JSON rows
    header: str  # what the spreadsheet's first row and the page's table head say (translated when shown)
    kind: str = "count"  # text, count, number, rate (a fraction, shown as a percentage), flag or moment
    coverage: bool = False  # a coverage figure: the page marks it while the unit's coverage waits for the refresh


#: Every figure with its header, in the order of the API's JSON rows.
COLUMNS = [
    Column("code", lazy_gettext("Unit code"), "text"),
    Column("name", lazy_gettext("Unit name"), "text"),
    Column("level", lazy_gettext("Level"), "text"),
    Column("parent_code", lazy_gettext("Parent unit code"), "text"),
    Column("communes", lazy_gettext("Communes and wards")),
    Column("lenses_active", lazy_gettext("Active camera lenses")),
    Column("lenses_offline", lazy_gettext("Offline camera lenses")),
    Column("shared_active_lenses", lazy_gettext("Active lenses under a sharing commitment")),
    Column("sharing_rate", lazy_gettext("Sharing rate"), "rate"),
    Column("recorders", lazy_gettext("Recorders")),
    Column("owners", lazy_gettext("Camera owners")),
    Column("owners_household", lazy_gettext("Camera owners: households")),
    Column("owners_agency", lazy_gettext("Camera owners: agencies")),
    Column("owners_business", lazy_gettext("Camera owners: businesses")),
    Column("sites", lazy_gettext("Programme sites")),
    Column("requests_opened", lazy_gettext("Footage requests opened")),
    Column("requests_resolved", lazy_gettext("Requests resolved")),
    Column("requests_with_footage", lazy_gettext("Requests resolved with footage")),
    Column("requests_without_footage", lazy_gettext("Requests resolved without footage (declined, no footage)")),
    Column("requests_expired_unanswered", lazy_gettext("Requests expired with no owner answering")),
    Column("requests_cancelled", lazy_gettext("Requests cancelled")),
    Column("requests_open", lazy_gettext("Requests still under way")),
    Column("median_hours_to_resolution", lazy_gettext("Time to resolution (hours, median)"), "number"),
    Column("assignments_answered", lazy_gettext("Owners' answers")),
    Column("assignments_consented", lazy_gettext("Consents")),
    Column("consent_rate", lazy_gettext("Consent rate"), "rate"),
    Column("assignments_expired", lazy_gettext("Expired unanswered")),
    Column("expired_share", lazy_gettext("Share expired unanswered"), "rate"),
    Column("seen_share", lazy_gettext("Share of the area seen by active lenses"), "rate", True),
    Column(
        "shared_seen_share",
        lazy_gettext("Share of the area seen by active lenses under a sharing commitment"),
        "rate",
        True,
    ),
    Column("road_km", lazy_gettext("Road length (km)"), "number", True),
    Column("road_seen_share", lazy_gettext("Share of the road length seen by active lenses"), "rate", True),
    Column(
        "road_shared_seen_share",
        lazy_gettext("Share of the road length seen by active lenses under a sharing commitment"),
        "rate",
        True,
    ),
    Column("coverage_stale", lazy_gettext("Coverage awaiting refresh"), "flag"),
    Column("coverage_computed_at", lazy_gettext("Coverage computed at (Vietnam time)"), "moment"),
]
#: What the page's table shows: the flag and the moment become a mark on the coverage figures and its footnote.
PAGE_COLUMNS = [column for column in COLUMNS if column.kind not in ("flag", "moment")]

#: What each level is called; districts are the pre-2025 units, kept for history.
LEVELS = {
    AdminLevel.PROVINCE: lazy_gettext("Province/City"),
    AdminLevel.DISTRICT: lazy_gettext("District (historical)"),
    AdminLevel.COMMUNE: lazy_gettext("Commune/Ward"),
}


def level_label(level: str) -> str:
    """The label of a level given by its code, as the rows carry it; a level without a label keeps its code."""
    label = next((label for known, label in LEVELS.items() if known.value == level), None)
    return str(label) if label is not None else level


def sheet_title(first: date, end: date) -> str:
    """What the sheet holds: the figures of a calendar month ("Số liệu 2026-11"), else of the days
    [first, end) by their first and last day."""
    last = end - timedelta(days=1)
    whole_month = first.day == 1 and last.month == first.month and last.year == first.year
    if whole_month and last.day == calendar.monthrange(first.year, first.month)[1]:
        return gettext("Figures %(month)s", month=first.strftime("%Y-%m"))
    return gettext("Figures %(first)s..%(last)s", first=first.isoformat(), last=last.isoformat())
