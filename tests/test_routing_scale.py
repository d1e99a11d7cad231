"""Filing a request costs the same number of queries however many owners and lenses it reaches (issue 16, item 4).

Routing and announcing once ran a few queries per owner and per lens, which
made a 1,000 m or 10 km request grow with the lenses it met. These tests
file the same request to few and to many owners and compare.
"""

from __future__ import annotations

import random
from contextlib import contextmanager

from geoalchemy2.shape import from_shape
from request_support import open_request
from shapely import LineString, Point
from sqlalchemy import event, select

from camera_registry.geo.spatial import corridor_envelopes, lenses_near
from camera_registry.models import AssignmentStatus, AuditEvent, Lens, Owner, OwnerKind, Recorder


def owners_facing_the_incident(session, world, count: int) -> None:
    """`count` more owners of commune A, each with a lens beside lens-a, looking east at the incident as it does."""
    for i in range(count):
        owner = Owner(
            external_id=f"scale-owner-{i}",
            kind=OwnerKind.HOUSEHOLD,
            name=f"Owner {i}",
            commune=world.commune_a,
            phone="0912345678",
        )
        recorder = Recorder(
            external_id=f"scale-rec-{i}",
            owner=owner,
            site_id=world.objects["a"]["site"],
            retention_days=14,
            point=from_shape(Point(105.82, 21.02), srid=4326),
        )
        for j in range(2):
            session.add(
                Lens(
                    external_id=f"scale-lens-{i}-{j}",
                    recorder=recorder,
                    point=from_shape(Point(105.8201, 21.02 + (2 * i + j + 1) * 2e-7), srid=4326),
                    bearing_deg=90.0,
                    fov_deg=90.0,
                    range_m=30.0,
                )
            )
    session.commit()


@contextmanager
def counted_selects(engine):
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def selects_to_file(client, world, engine) -> tuple[dict, list[str]]:
    with counted_selects(engine) as selects:
        response = open_request(client, world)
    assert response.status_code == 201, response.get_json()
    return response.get_json(), selects


def test_routing_and_announcing_do_not_query_per_owner_or_lens(client, world, session, engine):
    few, few_selects = selects_to_file(client, world, engine)
    owners_facing_the_incident(session, world, 30)
    many, many_selects = selects_to_file(client, world, engine)

    assert (len(few["assignments"]), few["lenses_routed"]) == (1, 1)
    assert (len(many["assignments"]), many["lenses_routed"]) == (31, 61)
    # Not one more query for 30 more owners and 60 more lenses (the first request also reads what later ones
    # find cached).
    assert len(many_selects) <= len(few_selects), many_selects


def test_every_announced_assignment_is_notified_and_audited_once(client, world, session):
    owners_facing_the_incident(session, world, 12)
    filed = open_request(client, world).get_json()

    assert {a["status"] for a in filed["assignments"]} == {AssignmentStatus.NOTIFIED.value}
    assert {a["version"] for a in filed["assignments"]} == {2}
    audited = session.scalars(
        select(AuditEvent.entity_id).where(AuditEvent.action == "assignment.notify").order_by(AuditEvent.entity_id)
    ).all()
    assert sorted(audited) == sorted(str(a["id"]) for a in filed["assignments"])


def test_a_long_diagonal_route_finds_through_its_corridor_what_a_full_scan_finds(session, world):
    """The index reads boxes along the route's pieces, not its whole bounding box: nothing within the radius
    may fall between them."""
    rng = random.Random(164)
    recorder = session.get(Recorder, world.objects["a"]["recorder"])
    route = LineString([(105.80, 21.00), (105.83, 21.03), (105.85, 21.029), (105.851, 21.06)])
    for i in range(400):
        near = route.interpolate(rng.random(), normalized=True)
        spot = Point(near.x + rng.uniform(-0.003, 0.003), near.y + rng.uniform(-0.003, 0.003))
        session.add(Lens(external_id=f"corridor-{i}", recorder=recorder, point=from_shape(spot, srid=4326)))
    session.flush()

    for radius_m in (20, 150, 300):
        indexed = [(lens.id, round(distance, 3)) for lens, distance in lenses_near(session, route, radius_m)]
        scanned = [
            (lens.id, round(distance, 3)) for lens, distance in lenses_near(session, route, radius_m, use_index=False)
        ]
        assert indexed == scanned and indexed, radius_m
    assert len(corridor_envelopes(route, 150)) > 3
