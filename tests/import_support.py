"""For the register import tests: the bundled template's rows, and registers written as CSV for commune A."""

from __future__ import annotations

import csv
import io
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "sample_data" / "import_template.csv"
HEADER = (
    "commune_code,site_code,owner_external_id,owner_kind,owner_name,owner_phone,recorder_external_id,"
    "retention_days,lens_external_id,lon,lat,bearing_deg,fov_deg,range_m,status,commitment_signed_at,"
    "commitment_valid_until"
)
#: One lens of a new owner in commune A; `n` tells the lenses (and their longitudes) apart.
GOOD_ROW = "A,site-a,owner-new,household,Hộ mới,0912000111,rec-new,14,lens-new-{n},105.8{n}5,21.02,90,90,30,active,,"


def template_rows() -> list[dict[str, str]]:
    with open(TEMPLATE, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def csv_bytes(rows: list[dict[str, str]], delimiter: str = ",", bom: bool = False) -> bytes:
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]), delimiter=delimiter, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return ("\ufeff" if bom else "").encode() + text.getvalue().encode("utf-8")


def register(*rows: str) -> bytes:
    """A register file of HEADER and `rows`."""
    return ("\n".join([HEADER, *rows]) + "\n").encode()
