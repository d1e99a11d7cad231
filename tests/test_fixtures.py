"""The fixtures themselves: each test's writes, committed or not, vanish afterwards,
and HTTP requests see the test's data."""

from __future__ import annotations

from geoalchemy2.shape import from_shape
from registry_support import COMMUNE_A_BOX, admin_unit
from shapely import Point
from sqlalchemy import func, select

from camera_registry.models import Owner, OwnerKind, Recorder, Role, User
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM


def test_backend_is_the_requested_one(backend, engine):
    assert engine.dialect.name == {"spatialite": "sqlite", "postgis": "postgresql"}[backend]


def test_commits_in_a_test_are_rolled_back(session, engine):
    session.add(Owner(external_id="isolation-probe", kind=OwnerKind.BUSINESS, name="Probe"))
    session.commit()  # releases a SAVEPOINT only
    assert session.scalar(select(func.count()).where(Owner.external_id == "isolation-probe")) == 1
    with engine.connect() as other:  # another connection sees nothing committed
        assert other.scalar(select(func.count()).where(Owner.external_id == "isolation-probe")) == 0


def test_http_requests_see_the_tests_data(client, session):
    commune = admin_unit("P-1", "Phường Thử Nghiệm", bounds=COMMUNE_A_BOX)
    session.add(commune)
    session.flush()
    owner = Owner(external_id="http-owner", kind=OwnerKind.HOUSEHOLD, name="Hộ gia đình")
    session.add_all(
        [
            Recorder(
                external_id="http-rec",
                owner=owner,
                retention_days=30,
                point=from_shape(Point(105.82, 21.02), srid=4326),
            )
        ]
    )
    session.flush()

    admin = User(username="fixture-admin", password_hash="!", role=Role.ADMIN)  # the front page needs a reader
    session.add(admin)
    session.flush()
    _, secret = accounts.create_token(session, SYSTEM, admin, "fixture test")

    assert client.get("/healthz").get_json() == {"status": "ok"}
    page = client.get("/", headers={"Authorization": f"Bearer {secret}"})
    assert page.status_code == 200
    assert "Phường Thử Nghiệm" in page.get_data(as_text=True)
