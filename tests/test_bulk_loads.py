"""The bulk path of loads (db.copy_rows: COPY on PostGIS, one executemany on SpatiaLite with the spatial index
built after): the rows it writes, the index it leaves, the memory a streamed load takes."""

from __future__ import annotations

import tracemalloc
from datetime import UTC, datetime

import pytest
from shapely.geometry import Point
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from camera_registry.db import copy_rows, spatial_indexes_deferred
from camera_registry.geo.spatial import lenses_near
from camera_registry.models import Lens, Owner, Recorder, SharingCommitment
from camera_registry.services.imports.writer import point_ewkt
from camera_registry.services.sample import load_dataset
from camera_registry.services.sample_generator import generate_city

#: A streamed 20,000-lens load keeps one batch of rows, the communes' locator and the parents' ids: a few MB.
STREAMED_LOAD_PEAK_BYTES = 60 * 1024 * 1024


def stored(session, table, keys: list[str]) -> list[tuple]:
    """The rows of `table` whose external id is in `keys`, every column but the id and the key, in key order."""
    key = table.c.external_id
    columns = [column for column in table.columns if column.name not in ("id", "external_id", "point")]
    rows = session.execute(
        select(key, *columns, func.ST_AsText(table.c.point)).where(key.in_(keys)).order_by(key)
    ).all()
    return [tuple(row[1:]) for row in rows]


def test_copy_rows_writes_what_an_insert_writes_defaults_and_nulls_included(session):
    """The same values through the bulk path and through SQLAlchemy's INSERT: identical rows."""
    connection = session.connection()
    owner_id = connection.execute(
        insert(Owner.__table__).returning(Owner.id), {"external_id": "BULK-O", "kind": "household", "name": "A"}
    ).scalar_one()
    recorders = [
        {
            "owner_id": owner_id,
            "point": point_ewkt(105.8 + k / 1000, 21.03),
            "retention_days": 7 + k,
            "make": "Hikvision" if k % 2 else None,
            "model": None,
        }
        for k in range(4)
    ]
    copy_rows(
        connection,
        Recorder.__table__,
        [{**row, "external_id": f"BULK-C{k}"} for k, row in enumerate(recorders)],
        ["external_id", *recorders[0]],
    )
    connection.execute(
        insert(Recorder.__table__), [{**row, "external_id": f"BULK-I{k}"} for k, row in enumerate(recorders)]
    )
    copied, inserted = (stored(session, Recorder.__table__, [f"BULK-{path}{k}" for k in range(4)]) for path in "CI")
    assert copied == inserted
    assert copied[0][-1] == "POINT(105.8 21.03)"

    recorder_id = session.scalar(select(Recorder.id).where(Recorder.external_id == "BULK-C0"))
    lens = {"recorder_id": recorder_id, "point": point_ewkt(105.8, 21.03), "bearing_deg": None, "fov_deg": 359.5}
    copy_rows(
        connection, Lens.__table__, [{**lens, "external_id": "BULK-LC", "kind": "ptz"}], [*lens, "external_id", "kind"]
    )
    connection.execute(insert(Lens.__table__), {**lens, "external_id": "BULK-LI", "kind": "ptz"})
    copied, inserted = (stored(session, Lens.__table__, [key]) for key in ("BULK-LC", "BULK-LI"))
    assert copied == inserted


def test_copy_rows_keeps_times_and_flags_of_commitments(session):
    connection = session.connection()
    owner_id = connection.execute(
        insert(Owner.__table__).returning(Owner.id), {"external_id": "BULK-T", "kind": "business", "name": "B"}
    ).scalar_one()
    signed = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    commitment = {
        "owner_id": owner_id,
        "all_recorders": False,
        "signed_at": signed,
        "valid_until": None,
        "channel": "paper",
        "text_version": "bulk-1",
    }
    copy_rows(connection, SharingCommitment.__table__, [commitment], list(commitment))
    connection.execute(insert(SharingCommitment.__table__), commitment)
    table = SharingCommitment.__table__
    rows = session.execute(
        select(*(column for column in table.columns if column.name != "id")).where(table.c.owner_id == owner_id)
    ).all()
    assert len(rows) == 2 and rows[0] == rows[1]
    assert (
        session.scalars(select(SharingCommitment).where(SharingCommitment.owner_id == owner_id)).first().signed_at
        == signed
    )


def test_a_bulk_error_is_sqlalchemys_integrity_error(session):
    """The importer turns an IntegrityError into a 409: COPY's must be one too, not the driver's own."""
    connection = session.connection()
    row = {"external_id": "BULK-DUP", "kind": "household", "name": "A"}
    with pytest.raises(IntegrityError), session.begin_nested():
        copy_rows(session.connection(), Owner.__table__, [row, row], list(row))
    assert (
        connection.scalar(select(func.count()).select_from(Owner.__table__).where(Owner.external_id == "BULK-DUP")) == 0
    )


def test_a_load_with_the_index_built_after_finds_every_lens_through_it(session):
    """The sample loads into empty tables, so SpatiaLite's index is dropped and rebuilt: it must hold every lens."""
    load_dataset(session)
    assert session.scalar(select(func.count(Lens.id))) > 0
    for lens in session.scalars(select(Lens).order_by(Lens.id).limit(40)):
        point = session.scalar(select(func.ST_AsText(Lens.point)).where(Lens.id == lens.id))
        lon, lat = (float(value) for value in point[len("POINT(") : -1].split())
        near = {found.id for found, _ in lenses_near(session, Point(lon, lat), 20)}
        scanned = {found.id for found, _ in lenses_near(session, Point(lon, lat), 20, use_index=False)}
        assert lens.id in near and near == scanned


def test_deferring_the_index_of_a_table_keeps_it_whole_when_nothing_is_loaded(session):
    load_dataset(session)
    before = session.scalar(select(func.count(Lens.id)))
    with spatial_indexes_deferred(session.connection(), Lens.__table__, None):
        pass
    lens = session.scalars(select(Lens).order_by(Lens.id)).first()
    point = session.scalar(select(func.ST_AsText(Lens.point)).where(Lens.id == lens.id))
    lon, lat = (float(value) for value in point[len("POINT(") : -1].split())
    assert lens.id in {found.id for found, _ in lenses_near(session, Point(lon, lat), 20)}
    assert session.scalar(select(func.count(Lens.id))) == before


def test_a_streamed_20000_lens_load_stays_within_a_bounded_memory(session, tmp_path):
    generate_city(tmp_path, lenses=20_000, sites=100, seed=5)
    tracemalloc.start()
    try:
        report = load_dataset(session, tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.lenses == 20_000
    assert peak < STREAMED_LOAD_PEAK_BYTES, f"peak {peak / 2**20:.1f} MB"
