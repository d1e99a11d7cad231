"""The per-commune summary (services/commune_figures.py) equals a recount from the raw rows after every kind of
write: through the API, the importer, the sample loader and an edition that moves cameras, and when a commitment
ends with no write at all. Before the scheduler's refresh a read already answers the recount; after it the stored
rows are the recount and no mark is pending."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, timedelta

import pytest
import shapely
from import_support import GOOD_ROW, register
from request_support import act, open_request
from shapely.geometry import MultiPolygon
from sqlalchemy import func, select, update
from sqlalchemy.orm import sessionmaker

from camera_registry.models import AdminLevel, AdminUnit, CommuneFigureMark, CommuneFigures, CommuneShape, Lens
from camera_registry.models.base import utcnow
from camera_registry.services import commune_figures
from camera_registry.services.access import SYSTEM
from camera_registry.services.commune_coverage import refresh_coverage
from camera_registry.services.commune_figures import REGISTRY_FIELDS, count_registry, refresh, registry_counts
from camera_registry.services.coverage import DrawnBoundary, map_communes
from camera_registry.services.editions import BUNDLED_EDITION, Edition, load_edition, read_edition
from camera_registry.services.sample import load_dataset

IN_A, IN_B = {"type": "Point", "coordinates": [105.821, 21.021]}, {"type": "Point", "coordinates": [105.871, 21.021]}
LATER_EDITION = date(2026, 4, 30)


def communes(session) -> list[int]:
    return list(session.scalars(select(AdminUnit.id).where(AdminUnit.level == AdminLevel.COMMUNE)))


def stored(session) -> dict[int, dict[str, int]]:
    return {
        row.commune_id: {name: getattr(row, name) for name in REGISTRY_FIELDS}
        for row in session.scalars(select(CommuneFigures))
    }


def assert_summary_is_a_recount(session, now=None) -> dict[int, dict[str, int]]:
    """Read, refresh, and compare both with a recount of every commune; return the recount."""
    now = now or utcnow()
    ids = communes(session)
    recount = count_registry(session, ids, now)
    assert registry_counts(session, ids, now) == recount
    refresh(session, now)
    assert stored(session) == recount
    assert session.scalar(select(func.count()).select_from(CommuneFigureMark)) == 0
    return recount


def call(client, world, method, path, body=None, role="police_a"):
    response = getattr(client, method)(path, json=body, headers=world.headers[role])
    assert response.status_code < 300, response.get_json()
    return response.get_json()


def new_lens(client, world, **body):
    return call(client, world, "post", "/api/v1/lenses", {"recorder_id": world.objects["a"]["recorder"], **body})


#: Each kind of write through the API, and the figure of commune A (or B) it changes, if any.
WRITES = {
    "create site": (
        lambda c, w: call(c, w, "post", "/api/v1/sites", {"code": "S-1", "name": "Điểm", "commune_code": "A"}),
        "sites",
    ),
    "rename site": (lambda c, w: call(c, w, "patch", f"/api/v1/sites/{w.objects['a']['site']}", {"name": "Mới"}), None),
    "delete site": (
        lambda c, w: c.delete(f"/api/v1/sites/{w.objects['a']['spare_site']}", headers=w.headers["police_a"]),
        "sites",
    ),
    "create owner": (
        lambda c, w: call(
            c,
            w,
            "post",
            "/api/v1/owners",
            {"external_id": "O-1", "kind": "agency", "name": "UBND", "commune_code": "A"},
        ),
        "owners_agency",
    ),
    "change owner's kind": (
        lambda c, w: call(c, w, "patch", f"/api/v1/owners/{w.objects['a']['owner']}", {"kind": "business"}),
        "owners_business",
    ),
    "create recorder": (
        lambda c, w: call(
            c,
            w,
            "post",
            "/api/v1/recorders",
            {"external_id": "R-1", "owner_id": w.objects["a"]["owner"], "point": IN_A, "retention_days": 14},
        ),
        "recorders",
    ),
    "move recorder to B": (
        lambda c, w: call(c, w, "patch", f"/api/v1/recorders/{w.objects['a']['recorder']}", {"point": IN_B}, "admin"),
        "recorders",
    ),
    "create lens": (lambda c, w: new_lens(c, w, external_id="L-1", point=IN_A), "lenses_active"),
    "take lens offline": (
        lambda c, w: call(c, w, "patch", f"/api/v1/lenses/{w.objects['a']['lens']}", {"status": "offline"}),
        "lenses_offline",
    ),
    "move lens to B": (
        lambda c, w: call(c, w, "patch", f"/api/v1/lenses/{w.objects['a']['lens']}", {"point": IN_B}, "admin"),
        "lenses_active",
    ),
    "remove lens": (
        lambda c, w: c.delete(f"/api/v1/lenses/{w.objects['a']['lens']}", headers=w.headers["police_a"]),
        "lenses_active",
    ),
    "revoke commitment": (
        lambda c, w: call(c, w, "post", f"/api/v1/commitments/{w.objects['a']['commitment']}/revoke", {}),
        "shared_active_lenses",
    ),
}


@pytest.mark.parametrize("write", WRITES, ids=list(WRITES))
def test_an_api_write_keeps_the_summary_a_recount(client, world, session, write):
    before = assert_summary_is_a_recount(session)
    do, changed = WRITES[write]
    response = do(client, world)
    assert getattr(response, "status_code", 200) < 300
    assert session.scalar(select(func.count()).select_from(CommuneFigureMark)) > 0
    after = assert_summary_is_a_recount(session)
    if changed is not None:
        assert before[world.commune_a.id][changed] != after[world.commune_a.id][changed]


def test_signing_for_listed_recorders_then_revoking_keeps_the_summary_a_recount(client, world, session):
    call(client, world, "post", f"/api/v1/commitments/{world.objects['a']['commitment']}/revoke", {})
    assert assert_summary_is_a_recount(session)[world.commune_a.id]["shared_active_lenses"] == 0
    signed = call(
        client,
        world,
        "post",
        "/api/v1/commitments",
        {
            "owner_id": world.objects["a"]["owner"],
            "recorder_ids": [world.objects["a"]["recorder"]],
            "valid_until": None,
            "channel": "paper",
            "text_version": "2025.1",
        },
    )
    assert assert_summary_is_a_recount(session)[world.commune_a.id]["shared_active_lenses"] == 1
    call(client, world, "post", f"/api/v1/commitments/{signed['id']}/revoke", {})
    assert assert_summary_is_a_recount(session)[world.commune_a.id]["shared_active_lenses"] == 0


def test_a_commitment_ending_with_no_write_is_counted_from_its_end(client, world, session):
    """The row says until when it is exact; a read past that recounts, and the next refresh stores it again."""
    call(client, world, "post", f"/api/v1/commitments/{world.objects['a']['commitment']}/revoke", {})
    now = utcnow()
    ends = now + timedelta(hours=1)
    body = {"owner_id": world.objects["a"]["owner"], "channel": "paper", "text_version": "2025.1"}
    call(
        client,
        world,
        "post",
        "/api/v1/commitments",
        {**body, "signed_at": now.isoformat(), "valid_until": ends.isoformat()},
    )
    assert assert_summary_is_a_recount(session, now)[world.commune_a.id]["shared_active_lenses"] == 1
    exact_until = select(CommuneFigures.exact_until).where(CommuneFigures.commune_id == world.commune_a.id)
    assert session.scalar(exact_until) == ends
    later = now + timedelta(hours=2)
    assert registry_counts(session, [world.commune_a.id], later)[world.commune_a.id]["shared_active_lenses"] == 0
    assert assert_summary_is_a_recount(session, later)[world.commune_a.id]["shared_active_lenses"] == 0
    assert session.scalar(exact_until) is None


def test_requests_leave_the_registry_counts_alone(client, world, session):
    assert_summary_is_a_recount(session)
    opened = open_request(client, world)
    assert opened.status_code == 201, opened.get_json()
    (assignment,) = opened.get_json()["assignments"]
    assert (
        act(client, world, assignment, "consent", handover="police_copy", version=assignment["version"]).status_code
        == 200
    )
    assert (
        client.post(
            f"/api/v1/footage-requests/{opened.get_json()['id']}/cancel", json={}, headers=world.headers["police_a"]
        ).status_code
        == 200
    )
    assert_summary_is_a_recount(session)


def test_an_import_keeps_the_summary_a_recount(client, world, session):
    before = assert_summary_is_a_recount(session)
    response = client.post(
        "/api/v1/imports",
        headers=world.headers["police_a"],
        data={"file": (io.BytesIO(register(GOOD_ROW.format(n=1), GOOD_ROW.format(n=2))), "register.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()
    after = assert_summary_is_a_recount(session)
    assert after[world.commune_a.id]["lenses_active"] == before[world.commune_a.id]["lenses_active"] + 2


def test_redrawn_boundaries_move_cameras_and_redraw_the_stored_shapes(client, world, session):
    assert_summary_is_a_recount(session)
    assert session.scalar(select(func.count()).where(CommuneShape.commune_id == world.commune_a.id)) > 0
    call(
        client,
        world,
        "patch",
        "/api/v1/admin-units/A",
        {
            "boundary": {
                "type": "Polygon",
                "coordinates": [[[105.83, 21.0], [105.85, 21.0], [105.85, 21.05], [105.83, 21.05], [105.83, 21.0]]],
            }
        },
        "admin",
    )
    assert session.scalar(select(func.count()).where(CommuneShape.commune_id == world.commune_a.id)) == 0
    after = assert_summary_is_a_recount(session)
    assert after[world.commune_a.id]["lenses_active"] == 0
    (drawn,) = [c for c in map_communes(session, SYSTEM, (105.8, 21.0, 105.9, 21.05), 12) if c.code == "A"]
    assert shapely.box(105.83, 21.0, 105.85, 21.05).equals(shapely.geometry.shape(drawn.boundary.__geo_interface__))


def test_the_map_sends_the_same_communes_from_stored_shapes(client, world, session):
    path = "/api/v1/map/communes?bbox=105.8,21.0,105.9,21.05&zoom=13"
    refresh_coverage(session, utcnow())  # stored, as the scheduler keeps it: both answers read the same coverage
    live = client.get(path, headers=world.headers["admin"])
    refresh(session, utcnow())
    kept = client.get(path, headers=world.headers["admin"])
    assert live.status_code == kept.status_code == 200
    assert kept.get_json() == live.get_json()
    assert all(
        isinstance(c.boundary, DrawnBoundary) for c in map_communes(session, SYSTEM, (105.8, 21.0, 105.9, 21.05), 13)
    )


def test_a_read_takes_the_stored_row_while_nothing_is_pending(world, session):
    assert_summary_is_a_recount(session)
    session.execute(update(CommuneFigures).where(CommuneFigures.commune_id == world.commune_a.id).values(sites=99))
    assert registry_counts(session, [world.commune_a.id], utcnow())[world.commune_a.id]["sites"] == 99


def test_the_sample_load_and_an_edition_moving_its_cameras_keep_the_summary_a_recount(session):
    load_dataset(session)
    loaded = assert_summary_is_a_recount(session)
    hanoi = read_edition(BUNDLED_EDITION, provinces=["01"])
    units = {unit.code: unit for unit in hanoi.units}
    ids = dict(session.execute(select(AdminUnit.code, AdminUnit.id).where(AdminUnit.valid_to.is_(None))).all())
    busiest = max(
        (code for code in units if code in ids and units[code].level == AdminLevel.COMMUNE),
        key=lambda code: loaded.get(ids[code], {}).get("lenses_active", 0),
    )
    neighbour = next(
        u
        for u in hanoi.units
        if u.code != busiest and u.level == AdminLevel.COMMUNE and u.boundary.intersects(units[busiest].boundary)
    )
    union = neighbour.boundary.union(units[busiest].boundary)
    merged = replace(neighbour, boundary=union if isinstance(union, MultiPolygon) else MultiPolygon([union]))
    later = Edition(
        source=hanoi.source,
        units=tuple(merged if u.code == neighbour.code else u for u in hanoi.units if u.code != busiest),
    )
    load_edition(session, later, LATER_EDITION, provinces=["01"])
    moved = assert_summary_is_a_recount(session)
    assert moved[ids[busiest]]["lenses_active"] == 0 < loaded[ids[busiest]]["lenses_active"]
    assert session.scalar(select(func.count(Lens.id)).where(Lens.commune_id == ids[busiest])) == 0


def test_the_scheduler_job_draws_boundaries_a_few_per_write_and_a_bounded_number_per_run(
    world, session, db_connection, monkeypatch
):
    """Simplifying a boundary for every zoom takes tens of milliseconds: the job simplifies outside any write and
    stores a few per write unit, up to a bound per run, so no write holds SQLite's lock for long."""
    monkeypatch.setattr(commune_figures, "SHAPES_PER_UNIT", 1)
    monkeypatch.setattr(commune_figures, "SHAPES_PER_RUN", 2)
    session.commit()
    sessions = sessionmaker(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    bounded = (
        select(func.count())
        .select_from(AdminUnit)
        .where(AdminUnit.level == AdminLevel.COMMUNE, AdminUnit.boundary.is_not(None))
    )
    communes = session.scalar(bounded)
    runs = [commune_figures.refresh_commune_figures(sessions, None, utcnow()) for _ in range(communes)]
    assert runs[0]["communes_recounted"] > 0
    drawn_per_run = [run.get("boundaries_drawn", 0) for run in runs]
    assert drawn_per_run == [min(2, max(0, communes - 2 * run)) for run in range(communes)]
    assert commune_figures.refresh_commune_figures(sessions, None, utcnow()) == {}
    drawn = session.scalar(select(func.count(func.distinct(CommuneShape.commune_id))))
    assert drawn == communes
