"""The bundled sample and the generator: grounded figures, determinism, streaming load."""

from __future__ import annotations

import filecmp
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from camera_registry.models import AdminUnit, Lens, Owner, OwnerKind, Recorder, SharingCommitment
from camera_registry.services.overview import commune_overview
from camera_registry.services.sample import DatasetError, load_dataset
from camera_registry.services.sample_generator import generate_city


@pytest.fixture()
def demo(session):
    return load_dataset(session)


def lenses_in(session, code: str) -> int:
    return session.scalar(
        select(func.count(Lens.id)).join(AdminUnit, Lens.commune_id == AdminUnit.id).where(AdminUnit.code == code)
    )


def test_demo_has_chi_dam_with_exactly_66_lenses(session, demo):
    assert lenses_in(session, "07915") == 66
    chi_dam = session.scalar(select(AdminUnit).where(AdminUnit.code == "07915"))
    assert chi_dam.name == "Xã Chí Đám" and chi_dam.parent.name == "Tỉnh Phú Thọ"


def test_demo_lenses_all_fall_in_a_current_commune(session, demo):
    assert session.scalar(select(func.count()).where(Lens.commune_id.is_(None))) == 0
    assert session.scalar(select(func.count()).where(Recorder.commune_id.is_(None))) == 0
    assert session.scalar(select(func.count()).where(Owner.commune_id.is_(None))) == 0
    assert demo.lenses == session.scalar(select(func.count(Lens.id)))


def test_demo_keeps_the_reform_history(session, demo):
    trung_liet = session.scalar(select(AdminUnit).where(AdminUnit.name == "Phường Trung Liệt"))
    assert trung_liet.valid_to == date(2025, 7, 1)
    assert not trung_liet.valid_on(date(2026, 1, 1)) and trung_liet.valid_on(date(2025, 6, 30))
    assert lenses_in(session, trung_liet.code) == 0  # its lenses now belong to Phường Đống Đa


def test_demo_shape_matches_the_seeds(session, demo):
    kinds = set(session.scalars(select(Owner.kind).distinct()))
    assert kinds == set(OwnerKind)
    low, high = session.execute(select(func.min(Recorder.retention_days), func.max(Recorder.retention_days))).one()
    assert low >= 7 and high <= 30
    lines = commune_overview(session, now=datetime(2026, 11, 1, tzinfo=UTC))
    shared = sum(line.shared_active_lenses for line in lines) / sum(line.active_lenses for line in lines)
    assert 0.85 <= shared <= 0.95
    assert session.scalar(select(func.count()).where(SharingCommitment.revoked_at.is_not(None))) > 0
    assert session.scalar(select(func.count()).where(SharingCommitment.all_recorders.is_(False))) > 0


def test_loading_twice_is_refused_and_writes_nothing(session, demo):
    owners = session.scalar(select(func.count(Owner.id)))
    with pytest.raises(DatasetError, match="empty database"):
        load_dataset(session)
    assert session.scalar(select(func.count(Owner.id))) == owners


def test_generator_is_deterministic(tmp_path):
    first = generate_city(tmp_path / "a", lenses=800, communes=9, sites=5, seed=3)
    second = generate_city(tmp_path / "b", lenses=800, communes=9, sites=5, seed=3)
    other = generate_city(tmp_path / "c", lenses=800, communes=9, sites=5, seed=4)
    assert first == second and first.lenses == 800
    names = ["admin_units.geojson", "sites.csv", "owners.csv", "recorders.csv", "lenses.csv", "commitments.csv"]
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", names, shallow=False)
    assert match == names and not mismatch and not errors
    assert not filecmp.cmp(tmp_path / "a" / "lenses.csv", tmp_path / "c" / "lenses.csv", shallow=False)
    assert other.lenses == 800


def test_generated_city_loads_with_every_lens_in_its_commune(session, tmp_path):
    counts = generate_city(tmp_path, lenses=2_000, communes=12, sites=20, seed=5)
    report = load_dataset(session, tmp_path)
    assert (report.lenses, report.recorders, report.owners) == (counts.lenses, counts.recorders, counts.owners)
    assert report.admin_units == 13
    assert session.scalar(select(func.count()).where(Lens.commune_id.is_(None))) == 0
    lines = commune_overview(session, now=datetime(2026, 11, 1, tzinfo=UTC))
    shared = sum(line.shared_active_lenses for line in lines) / sum(line.active_lenses for line in lines)
    assert 0.8 <= shared <= 0.97


def test_a_dataset_with_a_dangling_reference_is_refused(session, tmp_path):
    generate_city(tmp_path, lenses=50, communes=2, sites=2, seed=1)
    lenses = (tmp_path / "lenses.csv").read_text().splitlines()
    lenses[1] = lenses[1].replace(lenses[1].split(",")[1], "NO-SUCH-RECORDER")
    (tmp_path / "lenses.csv").write_text("\n".join(lenses) + "\n")
    with pytest.raises(DatasetError, match="NO-SUCH-RECORDER"):
        load_dataset(session, tmp_path)
