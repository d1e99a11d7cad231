"""What a request costs the database: token and session look-ups without a write on the read path, a
token's last use written after the response at most once per interval, revocation within the documented
time, and a dropped PostgreSQL connection (nothing pings at checkout) recovered on the next one."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from database_support import app_of_its_own, served
from registry_support import COMMUNE_A_BOX, admin_unit
from sqlalchemy import event, text, update

from camera_registry import db, migrate
from camera_registry.models import ApiToken, Role
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

PASSWORD = "a-long-test-password"


@pytest.fixture()
def cost_app(database_server):
    """The app on its own database: a commune, its police with a token, and their Bearer header."""
    with app_of_its_own(database_server, "cost", TESTING=True, WTF_CSRF_ENABLED=False, AUTH_CACHE_SECONDS=1.0) as app:
        migrate.upgrade(app.extensions["engine"])
        with db.open_session(app.extensions["session_factory"], db.WRITE) as session:
            session.add(admin_unit("A", "Xã A", bounds=COMMUNE_A_BOX))
            user = accounts.create_user(session, SYSTEM, "police.a", PASSWORD, Role.COMMUNE_POLICE, "A")
            _, secret = accounts.create_token(session, SYSTEM, user, "tests")
            session.commit()
        app.test_headers = {"Authorization": f"Bearer {secret}"}
        yield app


@contextmanager
def statements(app) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while inside."""
    sent: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    engine = app.extensions["engine"]
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)


def writes(sent: list[str]) -> list[str]:
    return [statement for statement in sent if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE"))]


def last_used(app):
    with db.open_session(app.extensions["session_factory"], db.READ) as session:
        return session.scalar(text("SELECT last_used_at FROM api_tokens"))


def test_a_token_read_writes_its_last_use_only_after_the_response(cost_app):
    client = cost_app.test_client()
    with statements(cost_app) as sent:
        response = client.get("/api/v1/sites", headers=cost_app.test_headers)
        assert response.status_code == 200
        assert writes(sent) == []  # the answer is complete, nothing was written for it
        response.close()  # what a server does once it has sent the body
        assert writes(sent) == [statement for statement in sent if "api_tokens" in statement and "UPDATE" in statement]
        assert len(writes(sent)) == 1
    assert last_used(cost_app) is not None


def test_a_token_stamps_its_last_use_at_most_once_per_interval(cost_app):
    interval_s = 4.0
    cost_app.config["TOKEN_LAST_USED_MINUTES"] = interval_s / 60
    client = cost_app.test_client()
    with statements(cost_app) as sent:
        started = time.monotonic()
        for _ in range(3):
            assert client.get("/api/v1/sites", headers=cost_app.test_headers, buffered=True).status_code == 200
        assert time.monotonic() - started < interval_s, "the machine is too slow for this interval"
        assert len(writes(sent)) == 1
        first = last_used(cost_app)
        time.sleep(max(0.0, started + interval_s + 0.2 - time.monotonic()))
        for _ in range(3):
            assert client.get("/api/v1/sites", headers=cost_app.test_headers, buffered=True).status_code == 200
        assert len(writes(sent)) == 2
    assert last_used(cost_app) > first


def test_repeated_reads_look_the_token_up_once_per_remembered_interval(cost_app):
    cost_app.config["AUTH_CACHE_SECONDS"] = 60  # however slow the machine, the reads below fall inside it
    client = cost_app.test_client()
    assert client.get("/api/v1/sites", headers=cost_app.test_headers, buffered=True).status_code == 200
    with statements(cost_app) as sent:
        for _ in range(3):
            assert client.get("/api/v1/sites", headers=cost_app.test_headers, buffered=True).status_code == 200
    assert not [statement for statement in sent if "api_tokens" in statement or "FROM users" in statement]


def test_a_token_revoked_in_this_process_stops_at_once(cost_app):
    client = cost_app.test_client()
    assert client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 200
    with db.open_session(cost_app.extensions["session_factory"], db.WRITE) as session:
        token = session.scalar(text("SELECT id FROM api_tokens"))
        accounts.revoke_token(session, SYSTEM, token)
        session.commit()
    assert client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 401


def test_a_token_revoked_by_another_process_stops_within_the_remembered_interval(cost_app):
    """Another worker's revoke reaches this one's remembered answer only when it runs out (AUTH_CACHE_SECONDS)."""
    client = cost_app.test_client()
    assert client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 200
    with cost_app.extensions["engine"].begin() as connection:  # the row changed behind this process's back
        connection.execute(update(ApiToken).values(revoked_at=text("CURRENT_TIMESTAMP")))
    deadline = time.monotonic() + cost_app.config["AUTH_CACHE_SECONDS"] + 0.5
    while client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 200:
        assert time.monotonic() < deadline, "the revoked token still works past AUTH_CACHE_SECONDS"
        time.sleep(0.1)
    assert client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 401


def test_deactivation_ends_the_token_and_the_login_session_at_once(cost_app):
    client = cost_app.test_client()
    assert client.post("/login", data={"username": "police.a", "password": PASSWORD}).status_code == 302
    assert client.get("/requests").status_code == 200
    bearer = cost_app.test_client()
    assert bearer.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 200
    with db.open_session(cost_app.extensions["session_factory"], db.WRITE) as session:
        accounts.deactivate_user(session, SYSTEM, "police.a")
        session.commit()
    assert bearer.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 401
    assert client.get("/requests").status_code == 302  # back to the login page


def test_a_login_session_read_writes_nothing(cost_app):
    client = cost_app.test_client()
    assert client.post("/login", data={"username": "police.a", "password": PASSWORD}).status_code == 302
    with statements(cost_app) as sent:
        for _ in range(3):
            assert client.get("/requests", buffered=True).status_code == 200
    assert writes(sent) == []


def _drop_the_pooled_connections(app) -> None:
    """What a PostgreSQL restart does to idle pooled connections: the server ends their backends."""
    url = app.extensions["engine"].url
    other = db.make_engine(url.render_as_string(hide_password=False))
    try:
        with other.connect() as connection:
            ended = connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).all()
            connection.commit()
    finally:
        other.dispose()
    assert ended, "the app's pool held no connection to end"


def test_a_dropped_connection_is_recovered_on_the_next_checkout(cost_app, backend):
    if backend != "postgis":
        pytest.skip("SQLite has no server to drop a connection")
    client = cost_app.test_client()
    assert client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 200
    _drop_the_pooled_connections(cost_app)
    first = client.get("/api/v1/sites", headers=cost_app.test_headers)
    # The statement that finds its connection gone answers "try again" (never a 500), and the pool starts afresh.
    assert first.status_code in (200, 503), first.get_data(as_text=True)
    if first.status_code == 503:
        assert first.headers["Retry-After"]
    for _ in range(3):
        assert client.get("/api/v1/sites", headers=cost_app.test_headers).status_code == 200


def test_a_write_unit_retries_once_on_a_dropped_connection(cost_app, backend):
    if backend != "postgis":
        pytest.skip("SQLite has no server to drop a connection")
    factory = cost_app.extensions["session_factory"]
    db.write_unit(factory, lambda session: session.execute(text("SELECT 1")))
    _drop_the_pooled_connections(cost_app)
    stamped = db.write_unit(factory, lambda session: session.execute(update(ApiToken).values(name="renamed")).rowcount)
    assert stamped == 1


def test_a_read_load_with_tokens_never_meets_a_locked_database(cost_app, caplog):
    """Eight threads read with four tokens whose last use is due on nearly every request: every read answers."""
    cost_app.config["TOKEN_LAST_USED_MINUTES"] = 0.001
    with db.open_session(cost_app.extensions["session_factory"], db.WRITE) as session:
        user = accounts.get_user(session, "police.a")
        secrets = [accounts.create_token(session, SYSTEM, user, f"load {n}")[1] for n in range(4)]
        session.commit()
    statuses: list[int] = []
    with served(cost_app) as base_url:

        def reader(secret: str) -> None:
            with requests.Session() as http:
                http.headers["Authorization"] = f"Bearer {secret}"
                for _ in range(25):
                    statuses.append(http.get(f"{base_url}/api/v1/sites", timeout=30).status_code)

        threads = [threading.Thread(target=reader, args=(secrets[n % 4],)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert statuses == [200] * 200
    assert "locked" not in caplog.text
