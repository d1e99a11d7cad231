"""The city-scale generator on the real communes: determinism, every point inside a real commune, density
falling away from the centre, the Hồ Chí Minh City preset, and a streaming load."""

from __future__ import annotations

import csv
import filecmp
import math
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from camera_registry.geo.communes import CommuneLocator
from camera_registry.geo.mapview import area_km2
from camera_registry.models import AdminLevel, Lens
from camera_registry.services.editions import BUNDLED_EDITION
from camera_registry.services.overview import commune_overview
from camera_registry.services.sample import DatasetError, load_dataset, read_units
from camera_registry.services.sample_generator import CENTRES, generate_city

FILES = ["dataset.json", "sites.csv", "owners.csv", "recorders.csv", "lenses.csv", "commitments.csv"]


def communes_of(province: str) -> dict:
    return {
        unit.code: unit for unit in read_units(BUNDLED_EDITION, (province,)).units if unit.level == AdminLevel.COMMUNE
    }


def rows(directory, file: str) -> list[dict]:
    with open(directory / f"{file}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def communes_holding(directory, file: str, communes: dict) -> list[str | None]:
    """The code of the real commune whose full boundary holds each row's point."""
    locator = CommuneLocator((code, unit.boundary) for code, unit in sorted(communes.items()))
    found = rows(directory, file)
    return locator.locate_many([float(r["lon"]) for r in found], [float(r["lat"]) for r in found])


def km_from_centre(unit) -> float:
    lon, lat = CENTRES[unit.parent_code]
    middle = unit.boundary.representative_point()
    return math.hypot((middle.x - lon) * 111.32 * math.cos(math.radians(lat)), (middle.y - lat) * 110.574)


def test_generator_is_deterministic(tmp_path):
    first = generate_city(tmp_path / "a", lenses=800, sites=40, seed=3)
    second = generate_city(tmp_path / "b", lenses=800, sites=40, seed=3)
    other = generate_city(tmp_path / "c", lenses=800, sites=40, seed=4)
    assert first == second and first.lenses == other.lenses == 800 and first.communes == 126
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", FILES, shallow=False)
    assert match == FILES and not mismatch and not errors
    assert not filecmp.cmp(tmp_path / "a" / "lenses.csv", tmp_path / "c" / "lenses.csv", shallow=False)


def test_every_point_lies_in_a_real_hanoi_commune_denser_in_inner_wards(tmp_path):
    counts = generate_city(tmp_path, lenses=20_000, seed=2)
    assert (counts.communes, counts.sites, counts.lenses) == (126, 265, 20_000)
    hanoi = communes_of("01")
    sites = rows(tmp_path, "sites")
    assert communes_holding(tmp_path, "sites", hanoi) == [site["commune_code"] for site in sites]
    assert {site["commune_code"] for site in sites} == set(hanoi)  # every commune has a site
    assert None not in communes_holding(tmp_path, "recorders", hanoi)
    lenses = Counter(communes_holding(tmp_path, "lenses", hanoi))
    assert None not in lenses

    def density(codes) -> float:
        return sum(lenses[code] for code in codes) / sum(area_km2(hanoi[code].boundary) for code in codes)

    inner = [code for code, unit in hanoi.items() if km_from_centre(unit) < 5]
    outer = [code for code, unit in hanoi.items() if km_from_centre(unit) > 20]
    assert len(inner) >= 10 and len(outer) >= 30
    assert density(inner) > 20 * density(outer)
    wards = [code for code in hanoi if hanoi[code].name.startswith("Phường")]
    rural = [code for code in hanoi if hanoi[code].name.startswith("Xã")]
    assert density(wards) > 5 * density(rural)


def test_the_hcmc_preset_has_4258_recorders_and_over_30000_lenses_in_its_168_communes(tmp_path):
    counts = generate_city(tmp_path, preset="hcmc")
    assert (counts.communes, counts.recorders) == (168, 4_258) and counts.lenses > 30_000
    hcmc = communes_of("79")
    assert None not in communes_holding(tmp_path, "lenses", hcmc)
    assert len(rows(tmp_path, "recorders")) == 4_258 and len(rows(tmp_path, "lenses")) == counts.lenses


def test_a_scaled_down_hcmc_city_loads_with_every_lens_in_its_commune(session, tmp_path):
    counts = generate_city(tmp_path, preset="hcmc", recorders=300, sites=60, seed=5)
    report = load_dataset(session, tmp_path)
    assert (report.lenses, report.recorders, report.owners) == (counts.lenses, counts.recorders, counts.owners)
    assert report.admin_units == 169 and counts.recorders == 300
    assert session.scalar(select(func.count()).where(Lens.commune_id.is_(None))) == 0
    lines = commune_overview(session, now=datetime(2026, 11, 1, tzinfo=UTC))
    shared = sum(line.shared_active_lenses for line in lines) / sum(line.active_lenses for line in lines)
    assert 0.8 <= shared <= 0.97


def test_a_dataset_with_a_dangling_reference_is_refused(session, tmp_path):
    generate_city(tmp_path, lenses=50, sites=2, seed=1)
    lenses = (tmp_path / "lenses.csv").read_text().splitlines()
    lenses[1] = lenses[1].replace(lenses[1].split(",")[1], "NO-SUCH-RECORDER")
    (tmp_path / "lenses.csv").write_text("\n".join(lenses) + "\n")
    with pytest.raises(DatasetError, match="NO-SUCH-RECORDER"):
        load_dataset(session, tmp_path)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        ({"preset": "paris"}, "preset must be one of hanoi, hcmc, bundled"),
        ({"lenses": 10, "recorders": 10}, "not both"),
        ({"sites": 0}, "at least 1"),
    ],
)
def test_the_generator_refuses_what_it_cannot_make(tmp_path, options, reason):
    with pytest.raises(ValueError, match=reason):
        generate_city(tmp_path, **options)


def test_sample_generate_writes_a_preset_city(app, tmp_path):
    runner = app.test_cli_runner()
    result = runner.invoke(
        args=["sample", "generate", "--preset", "hcmc", "--recorders", "40", "--out", str(tmp_path / "hcmc")]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 168 communes, 600 sites" in result.output and "40 recorders" in result.output
    both = runner.invoke(args=["sample", "generate", "--lenses", "5", "--recorders", "5", "--out", str(tmp_path)])
    assert both.exit_code == 2 and "give --lenses or --recorders, not both" in both.output
