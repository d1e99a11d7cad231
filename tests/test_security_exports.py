"""Spreadsheet formula injection: every CSV export writes text that would start a formula as plain text."""

from __future__ import annotations

import csv
import io

import pytest

from camera_registry.api.tables import csv_cell

HOSTILE_NAMES = [
    '=HYPERLINK("http://evil.example","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_stats_csv_writes_formula_like_unit_names_as_text(client, session, world, name):
    world.commune_a.name = name
    session.commit()
    answer = client.get("/api/v1/stats/admin-units?format=csv", headers=world.headers["admin"])
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True).lstrip("\ufeff"))))
    names = [row[1] for row in rows[1:] if row[0] == "A"]
    assert names == ["'" + name]
    # No cell of the file may start a formula.
    assert not [
        cell
        for row in rows
        for cell in row
        if cell[:1] in ("=", "+", "@", "\t", "\r") or (cell.startswith("-") and not _is_number(cell))
    ]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def test_numbers_stay_numbers_and_plain_text_is_unchanged():
    assert csv_cell(-3) == -3 and csv_cell(0.5) == 0.5
    assert csv_cell("Phường Đống Đa") == "Phường Đống Đa" and csv_cell(None) == ""
    assert csv_cell("=1+1") == "'=1+1" and csv_cell("-x") == "'-x"
