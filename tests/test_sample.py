"""The bundled sample on the bundled edition's real boundaries: its communes, its lenses, and how it loads."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime

import pytest
import shapely
from geoalchemy2.shape import to_shape
from sample_support import SampleOnce
from shapely.geometry import box
from sqlalchemy import func, select

from camera_registry.models import AdminLevel, AdminUnit, Lens, Owner, OwnerKind, Recorder, SharingCommitment
from camera_registry.services.overview import commune_overview
from camera_registry.services.sample import BUNDLED_SAMPLE, DatasetError, DatasetWriter, load_dataset

#: The communes the demo accounts and the supervision group HN-TT stand on: each needs lenses to show.
DEMO_COMMUNES = ("00004", "00070", "00226", "00235", "00292", "07999")


def lenses_in(session, code: str) -> int:
    return session.scalar(
        select(func.count(Lens.id)).join(AdminUnit, Lens.commune_id == AdminUnit.id).where(AdminUnit.code == code)
    )


def unit(session, code: str) -> AdminUnit:
    return session.scalar(select(AdminUnit).where(AdminUnit.code == code))


def long_side(geometry) -> float:
    """The long side of the geometry's minimum rotated rectangle, in degrees."""
    corners = shapely.get_coordinates(geometry.minimum_rotated_rectangle)
    return max(shapely.LineString(corners[k : k + 2]).length for k in range(2))


class TestTheLoadedSample:
    """What the sample holds, read from one load of it that these tests share (tests/sample_support.py); the
    tests after them load datasets of their own into an empty registry."""

    @pytest.fixture(scope="class")
    @classmethod
    def sample(cls, engine):
        loaded = SampleOnce(engine)
        yield loaded
        loaded.close()

    @pytest.fixture()
    def db_connection(self, sample):
        with sample.savepoint() as connection:
            yield connection

    @pytest.fixture()
    def demo(self, sample):
        return sample.report

    def test_demo_holds_every_commune_of_hanoi_phu_tho_and_hcmc_with_its_real_boundary(self, session, demo):
        communes = dict(
            session.execute(
                select(AdminUnit.parent_id, func.count(AdminUnit.id))
                .where(AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.boundary.is_not(None))
                .group_by(AdminUnit.parent_id)
            ).all()
        )
        assert {unit(session, code).name: communes[unit(session, code).id] for code in ("01", "25", "79")} == {
            "Thành phố Hà Nội": 126,
            "Tỉnh Phú Thọ": 148,
            "Thành phố Hồ Chí Minh": 168,
        }
        assert demo.admin_units == 445
        with_lenses = session.scalar(select(func.count(func.distinct(Lens.commune_id))))
        assert 10 <= with_lenses <= 20  # a realistic handful; the other communes are present and empty

    def test_chi_dam_has_exactly_66_lenses_inside_its_stored_boundary(self, session, demo):
        chi_dam = unit(session, "07999")
        assert chi_dam.name == "Xã Chí Đám" and chi_dam.parent.name == "Tỉnh Phú Thọ"
        assert lenses_in(session, "07999") == 66
        inside = session.scalar(
            select(func.count(Lens.id))
            .join(AdminUnit, AdminUnit.code == "07999")
            .where(Lens.point.ST_Within(AdminUnit.boundary))
        )
        assert inside == 66
        boundary = to_shape(chi_dam.boundary)
        points = [to_shape(point) for point in session.scalars(select(Lens.point).where(Lens.commune_id == chi_dam.id))]
        assert all(boundary.contains(point) for point in points)
        # Along its main road, through the commune: the lenses span more than half its length, not one cluster.
        assert long_side(shapely.MultiPoint(points)) > 0.5 * long_side(boundary)

    def test_every_lens_lies_in_the_commune_whose_boundary_contains_it(self, session, demo):
        assert session.scalar(select(func.count()).where(Lens.commune_id.is_(None))) == 0
        assert session.scalar(select(func.count()).where(Recorder.commune_id.is_(None))) == 0
        assert session.scalar(select(func.count()).where(Owner.commune_id.is_(None))) == 0
        in_own_commune = session.scalar(
            select(func.count(Lens.id))
            .join(AdminUnit, Lens.commune_id == AdminUnit.id)
            .where(AdminUnit.boundary.ST_Contains(Lens.point))
        )
        assert in_own_commune == demo.lenses == session.scalar(select(func.count(Lens.id)))
        boundaries = {
            unit_id: to_shape(boundary)
            for unit_id, boundary in session.execute(
                select(AdminUnit.id, AdminUnit.boundary).where(AdminUnit.id.in_(select(Lens.commune_id)))
            )
        }
        for commune_id, point in session.execute(select(Lens.commune_id, Lens.point)):
            assert boundaries[commune_id].contains(to_shape(point))

    def test_demo_communes_have_lenses_and_streets_in_their_addresses(self, session, demo):
        assert all(lenses_in(session, code) > 0 for code in DEMO_COMMUNES)
        assert lenses_in(session, "00235") == 72
        addresses = set(session.scalars(select(Owner.address).where(Owner.commune_id == unit(session, "00235").id)))
        for street in ("Phố Tây Sơn", "Phố Thái Hà", "Phố Trung Liệt"):
            assert any(address.endswith(f"{street}, Phường Đống Đa") for address in addresses), street
        hcmc = select(AdminUnit.id).where(AdminUnit.parent_id == unit(session, "79").id)
        assert session.scalar(select(func.count(Lens.id)).where(Lens.commune_id.in_(hcmc))) > 100
        assert unit(session, "00235").police_phone.startswith("84")

    def test_demo_shape_matches_the_seeds(self, session, demo):
        kinds = set(session.scalars(select(Owner.kind).distinct()))
        assert kinds == set(OwnerKind)
        low, high = session.execute(select(func.min(Recorder.retention_days), func.max(Recorder.retention_days))).one()
        assert low >= 7 and high <= 30
        lines = commune_overview(session, now=datetime(2026, 11, 1, tzinfo=UTC))
        shared = sum(line.shared_active_lenses for line in lines) / sum(line.active_lenses for line in lines)
        assert 0.85 <= shared <= 0.95
        assert session.scalar(select(func.count()).where(SharingCommitment.revoked_at.is_not(None))) > 0
        assert session.scalar(select(func.count()).where(SharingCommitment.all_recorders.is_(False))) > 0

    def test_loading_twice_is_refused_and_writes_nothing(self, session, demo):
        owners = session.scalar(select(func.count(Owner.id)))
        with pytest.raises(DatasetError, match="empty database"):
            load_dataset(session)
        assert session.scalar(select(func.count(Owner.id))) == owners


def test_the_sample_ships_no_geometry_of_its_own():
    assert sorted(path.name for path in BUNDLED_SAMPLE.iterdir()) == [
        "commitments.csv",
        "dataset.json",
        "lenses.csv",
        "owners.csv",
        "recorders.csv",
        "sites.csv",
    ]
    assert sum(path.stat().st_size for path in BUNDLED_SAMPLE.iterdir()) < 200_000


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"provinces": ["01", "99"]}, "no province with code 99"),
        ({"police_phones": {"99999": "0987654321"}}, "police_phones: 99999 is not a unit of the edition"),
        ({"police_phones": {"00235": "024 3825 1234"}}, "00235: phone '024 3825 1234'"),
        ({"effective": "first of July"}, "not a dataset manifest"),
        ({"edition": "no-such-edition"}, "no-such-edition: no such file or directory"),
    ],
)
def test_a_bad_manifest_is_refused_naming_what_is_wrong(session, tmp_path, change, reason):
    dataset = shutil.copytree(BUNDLED_SAMPLE, tmp_path / "dataset")
    manifest = json.loads((dataset / "dataset.json").read_text(encoding="utf-8"))
    (dataset / "dataset.json").write_text(json.dumps({**manifest, **change}), encoding="utf-8")
    with pytest.raises(DatasetError, match=reason):
        load_dataset(session, dataset)


def test_a_dataset_with_its_units_inline_still_loads(session, tmp_path):
    with DatasetWriter(tmp_path) as writer:
        writer.admin_unit("T1", "Tỉnh Thử", "province")
        writer.admin_unit("T0001", "Xã Thử", "commune", "T1", box(105.0, 21.0, 105.1, 21.1), "0987654321")
        writer.row("sites", "S1", "Điểm thử", "T0001", 105.05, 21.05)
        writer.row("owners", "O1", "household", "Nguyễn Văn An", "0987 654 321", None, "Số 1 Đường Thử")
        writer.row("recorders", "R1", "O1", "S1", 105.05, 21.05, 14, None, None, "active")
        writer.row("lenses", "L1", "R1", 105.05, 21.05, 90.0, 90.0, 30.0, None, "fixed", "active")
    report = load_dataset(session, tmp_path)
    assert (report.admin_units, report.lenses) == (2, 1)
    commune = unit(session, "T0001")
    assert commune.police_phone == "84987654321" and commune.valid_from.isoformat() == "2025-07-01"
    assert session.scalar(select(Lens.commune_id)) == commune.id


def test_a_directory_without_units_is_not_a_dataset(session, tmp_path):
    with pytest.raises(DatasetError, match="no dataset.json or admin_units.geojson"):
        load_dataset(session, tmp_path)
