"""Units of work (camera_registry.db): reads never write, writers wait for each other, a busy database is a 503.

These need connections of their own, so they run on a fresh database each, not on the test's rolled-back one.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from database_support import app_of_its_own
from registry_support import COMMUNE_A_BOX, admin_unit
from sqlalchemy import select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from camera_registry import db, migrate
from camera_registry.models import ApiToken, AuditEvent, Owner, OwnerKind, Role, SchedulerLease
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

LOCK_WAIT_MS = 300


@pytest.fixture()
def factory(own_database_url):
    engine = db.make_engine(own_database_url, busy_timeout_ms=LOCK_WAIT_MS)
    yield db.make_session_factory(engine)
    engine.dispose()


def _counter(session) -> int:
    """FOR UPDATE is what serialises this on PostgreSQL; on SQLite it does nothing and BEGIN IMMEDIATE does it."""
    return int(session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == "counter").with_for_update()))


def test_the_configured_lock_wait_survives_loading_spatialite(factory, backend):
    """mod_spatialite sets a 5 s busy timeout when it loads; ours is set after it."""
    if backend != "spatialite":
        pytest.skip("SQLite's busy timeout")
    with factory.kw["bind"].connect() as connection:
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == LOCK_WAIT_MS


def test_a_read_unit_refuses_to_write(factory):
    with db.open_session(factory, db.READ) as session:
        session.add(SchedulerLease(name="x", holder="h", expires_at=datetime.now(UTC)))
        with pytest.raises(db.ReadUnitWrote):
            session.flush()
    with db.open_session(factory, db.READ) as session, pytest.raises(db.ReadUnitWrote):
        session.execute(update(SchedulerLease).values(holder="h"))


def test_after_read_waits_for_the_end_of_a_read_and_runs_at_once_in_a_write(factory):
    def note(session):
        session.add(SchedulerLease(name="noted", holder="h", expires_at=datetime.now(UTC)))

    read = db.open_session(factory, db.READ)
    db.after_read(read, note)
    assert read.scalar(select(SchedulerLease).where(SchedulerLease.name == "noted")) is None
    db.finish_read(factory, read)
    with db.open_session(factory, db.READ) as session:
        assert session.scalar(select(SchedulerLease.holder).where(SchedulerLease.name == "noted")) == "h"
    with db.open_session(factory, db.WRITE) as session:
        db.after_read(session, note)
        assert session.new


def test_write_units_that_read_then_write_wait_for_each_other(factory):
    """Each unit reads the counter, pauses, writes it + 1: on SQLite a deferred BEGIN fails here at once."""
    db.write_unit(
        factory,
        lambda session: session.add(SchedulerLease(name="counter", holder="0", expires_at=datetime.now(UTC))),
    )
    errors: list[BaseException] = []

    def increment(session):
        value = _counter(session)
        time.sleep(0.01)
        session.execute(update(SchedulerLease).where(SchedulerLease.name == "counter").values(holder=str(value + 1)))

    def worker():
        try:
            for _ in range(5):
                db.write_unit(factory, increment)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with db.open_session(factory, db.READ) as session:
        assert _counter(session) == 30


def test_a_deferred_sqlite_transaction_cannot_wait_for_the_lock(own_database_url, backend):
    """Why write units begin IMMEDIATE: the failure the issue measured, reproduced with two plain connections."""
    if backend != "spatialite":
        pytest.skip("SQLite's single-writer lock")
    path = make_url(own_database_url).database
    driver = _sqlite_driver()
    reader, writer = (driver.connect(path, isolation_level=None, timeout=5) for _ in range(2))
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM scheduler_leases").fetchall()
        writer.execute("INSERT INTO scheduler_leases VALUES ('w', 'h', '2026-01-01 00:00:00')")
        started = time.monotonic()
        with pytest.raises(driver.OperationalError, match="locked"):
            reader.execute("INSERT INTO scheduler_leases VALUES ('r', 'h', '2026-01-01 00:00:00')")
        assert time.monotonic() - started < 1, "failed at once, whatever the busy timeout"
    finally:
        reader.close()
        writer.close()


def test_retryable_errors_are_told_apart(factory, backend):
    if backend != "spatialite":
        pytest.skip("SQLite's lock message")
    holder = _hold_write_lock(factory)
    try:
        with pytest.raises(OperationalError) as raised:
            db.write_unit(
                factory,
                lambda session: session.add(SchedulerLease(name="y", holder="h", expires_at=datetime.now(UTC))),
                attempts=2,
            )
        assert db.is_retryable(raised.value)
    finally:
        holder.close()


def _sqlite_driver():
    """The app's own SQLite library: two copies of SQLite in one process do not see each other's locks."""
    return db._sqlite_module()


def _hold_write_lock(factory):
    """Another writer, in the middle of a long write: it holds SQLite's single write lock."""
    url = factory.kw["bind"].url
    holder = _sqlite_driver().connect(url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


# --------------------------------------------------------------------------- through HTTP


@pytest.fixture()
def busy_app(database_server):
    """The app on its own database with a short lock wait, a commune, its police (by token) and an owner."""
    with app_of_its_own(database_server, "units", TESTING=True, SQLITE_BUSY_TIMEOUT_MS=LOCK_WAIT_MS) as app:
        migrate.upgrade(app.extensions["engine"])
        with db.open_session(app.extensions["session_factory"], db.WRITE) as session:
            commune = admin_unit("A", "Xã A", bounds=COMMUNE_A_BOX)
            session.add(commune)
            session.add(
                Owner(
                    external_id="owner-a", kind=OwnerKind.HOUSEHOLD, name="Chủ A", commune=commune, phone="0912345678"
                )
            )
            user = accounts.create_user(session, SYSTEM, "police.a", "a-long-test-password", Role.COMMUNE_POLICE, "A")
            _, secret = accounts.create_token(session, SYSTEM, user, "tests")
            session.commit()
        app.test_headers = {"Authorization": f"Bearer {secret}"}
        yield app


def _contact_reads(app) -> int:
    with db.open_session(app.extensions["session_factory"], db.READ) as session:
        return len(session.scalars(select(AuditEvent).where(AuditEvent.action == "owner.contacts_read")).all())


def test_a_read_that_shows_contacts_is_audited_after_it(busy_app):
    client = busy_app.test_client()
    response = client.get("/api/v1/owners", headers=busy_app.test_headers, buffered=True)  # closed, as a server does
    assert response.status_code == 200
    assert response.json[0]["phone"] == "0912345678"
    assert _contact_reads(busy_app) == 1
    with db.open_session(busy_app.extensions["session_factory"], db.READ) as session:
        assert session.scalar(select(ApiToken.last_used_at)) is not None


def test_a_read_answers_even_when_its_audit_cannot_be_written(busy_app, backend):
    if backend != "spatialite":
        pytest.skip("SQLite's single-writer lock")
    client = busy_app.test_client()
    holder = _hold_write_lock(busy_app.extensions["session_factory"])
    try:
        response = client.get("/api/v1/owners", headers=busy_app.test_headers)
    finally:
        holder.close()
    assert response.status_code == 200
    assert response.json[0]["phone"] == "0912345678"


def test_a_write_that_cannot_get_the_lock_in_time_is_a_503_with_retry_after(busy_app, backend):
    if backend != "spatialite":
        pytest.skip("SQLite's single-writer lock")
    client = busy_app.test_client()
    site = {"code": "site-1", "name": "Điểm 1", "commune_code": "A"}
    holder = _hold_write_lock(busy_app.extensions["session_factory"])
    try:
        response = client.post("/api/v1/sites", json=site, headers=busy_app.test_headers)
    finally:
        holder.close()
    assert response.status_code == 503, response.json
    assert response.json["code"] == "database_busy"
    assert response.headers["Retry-After"]
    assert client.post("/api/v1/sites", json=site, headers=busy_app.test_headers).status_code == 201


def _last_used(app) -> datetime | None:
    with db.open_session(app.extensions["session_factory"], db.READ) as session:
        return session.scalar(select(ApiToken.last_used_at))


def test_a_token_stamps_its_last_use_once_per_resolution_not_per_request(busy_app):
    client = busy_app.test_client()
    assert client.get("/api/v1/sites", headers=busy_app.test_headers, buffered=True).status_code == 200
    first = _last_used(busy_app)
    assert first is not None and datetime.now(UTC) - first < timedelta(minutes=1)
    for _ in range(3):
        assert client.get("/api/v1/sites", headers=busy_app.test_headers).status_code == 200
    assert _last_used(busy_app) == first


def test_a_job_writes_in_batches_until_one_comes_up_short(factory):
    """Each batch is its own write unit: 7 items at 3 a batch are 3 units (3, 3, 1)."""
    db.write_unit(
        factory,
        lambda session: session.add_all(
            SchedulerLease(name=f"item-{n}", holder="todo", expires_at=datetime.now(UTC)) for n in range(7)
        ),
    )
    units: list[int] = []

    def batch(session) -> int:
        due = session.scalars(select(SchedulerLease).where(SchedulerLease.holder == "todo").limit(3)).all()
        for item in due:
            item.holder = "done"
        units.append(len(due))
        return len(due)

    assert db.write_in_batches(factory, batch, 3) == 7
    assert units == [3, 3, 1]
