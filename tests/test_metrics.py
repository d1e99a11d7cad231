"""/metrics (camera_registry/metrics.py, web/health.py), on the run's backend.

The forced-contention test is the issue's "done when": on SpatiaLite another connection of the app's
own driver holds the write lock, a write request answers 503, and /metrics counts the lock errors;
on PostGIS the server fails write units with a real serialisation failure.
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
import requests
from database_support import app_of_its_own
from soak_support import prepare_registry, start_web
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from camera_registry import db
from camera_registry.models import Assignment, Channel, MessageStatus, OutboxMessage
from camera_registry.models.base import utcnow

SAMPLE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def samples(body: str) -> dict[tuple[str, frozenset], float]:
    found = {}
    for line in body.splitlines():
        match = SAMPLE.match(line)
        if match:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', match["labels"] or ""))
            found[(match["name"], labels)] = float(match["value"])
    return found


def value(body: str, name: str, **labels) -> float:
    return samples(body).get((name, frozenset(labels.items())), 0.0)


def scrape(client, **kwargs) -> str:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"].startswith("text/plain")
    return response.get_data(as_text=True)


def test_only_the_monitoring_address_or_the_token_may_read(app, client, monkeypatch):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1, allowed by default
    elsewhere = {"environ_base": {"REMOTE_ADDR": "203.0.113.9"}}
    assert client.get("/metrics", **elsewhere).status_code == 403
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics-token")
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-token"}, **elsewhere).status_code == 200
    )
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}, **elsewhere).status_code == 403
    monkeypatch.setitem(app.config, "METRICS_ALLOWED_ADDRESSES", "203.0.113.0/24")
    assert client.get("/metrics", **elsewhere).status_code == 200
    assert client.get("/metrics").status_code == 403


def test_requests_are_counted_by_route_never_by_token(client):
    before = scrape(client)
    token = "Zt9-owner-link-token-never-in-metrics"
    for _ in range(3):
        client.get("/healthz")
    client.get(f"/o/{token}")
    client.get("/no/such/page")
    body = scrape(client)
    assert (
        value(body, "camera_registry_http_requests_total", method="GET", route="/healthz", status="200")
        == value(before, "camera_registry_http_requests_total", method="GET", route="/healthz", status="200") + 3
    )
    assert any(
        name == "camera_registry_http_requests_total" and ("route", "/o/<token>") in labels
        for name, labels in samples(body)
    )
    assert value(body, "camera_registry_http_requests_total", method="GET", route="<unmatched>", status="404") >= 1
    assert value(body, "camera_registry_http_request_duration_seconds_count", method="GET", route="/healthz") >= 3
    assert token not in body


#: The contacts the outbox messages go to: none may show in /metrics.
RECIPIENTS = {Channel.WEBHOOK: "0912345678", Channel.EMAIL: "a@example.vn"}


def outbox_message(key: str, channel: Channel, attempts: int, **state) -> OutboxMessage:
    return OutboxMessage(
        kind="x",
        channel=channel,
        recipient=RECIPIENTS[channel],
        body="x",
        idempotency_key=key,
        attempts=attempts,
        **state,
    )


def test_the_database_gauges(client, session):
    now = utcnow()
    session.add_all(
        [
            outbox_message("m-1", Channel.WEBHOOK, 2, next_attempt_at=now - timedelta(minutes=10)),
            outbox_message("m-2", Channel.WEBHOOK, 3, status=MessageStatus.SENT),
            outbox_message("m-3", Channel.EMAIL, 8, status=MessageStatus.DEAD),
        ]
    )
    session.commit()
    body = scrape(client)
    assert value(body, "camera_registry_outbox_messages", channel="webhook", status="pending") == 1
    assert value(body, "camera_registry_outbox_messages", channel="webhook", status="sent") == 1
    assert value(body, "camera_registry_outbox_messages", channel="email", status="dead") == 1
    assert value(body, "camera_registry_outbox_failed_attempts", channel="webhook") == 2 + 3 - 1
    assert value(body, "camera_registry_outbox_failed_attempts", channel="email") == 8
    assert value(body, "camera_registry_outbox_due_messages", channel="webhook") == 1
    assert 590 < value(body, "camera_registry_outbox_oldest_due_age_seconds", channel="webhook") < 700
    assert value(body, "camera_registry_database_up") == 1
    assert "camera_registry_assignments" in body and "camera_registry_clips_stored_bytes" in body
    assert not any(recipient in body for recipient in RECIPIENTS.values())
    assert session.query(Assignment).count() == sum(
        amount for (name, _), amount in samples(body).items() if name == "camera_registry_assignments"
    )


def test_the_job_runner_counts_runs_and_what_they_report(session):
    from prometheus_client import REGISTRY

    from camera_registry import metrics

    def count(name, **labels):
        return REGISTRY.get_sample_value(name, labels) or 0.0

    before = count("camera_registry_job_results_total", job="deliver_outbox", result="sent")
    metrics.count_job_run("deliver_outbox", "ok", 0.2, {"sent": 4, "dead": 0})
    assert count("camera_registry_job_results_total", job="deliver_outbox", result="sent") == before + 4
    assert count("camera_registry_job_runs_total", job="deliver_outbox", outcome="ok") >= 1


# --------------------------------------------------------------------------- forced contention


@pytest.fixture()
def contended(database_server):
    """An app on a database of its own (a short lock wait) with the sample and an admin token."""
    with app_of_its_own(database_server, "contention", TESTING=True, SQLITE_BUSY_TIMEOUT_MS=200) as app:
        url = app.config["DATABASE_URL"]
        yield app, url, prepare_registry(url, desks=1)


def test_lock_errors_of_a_forced_contention_show_in_metrics(contended, backend):
    if backend != "spatialite":
        pytest.skip("SpatiaLite's single write lock; PostGIS: see the serialisation failure test")
    app, url, registry = contended
    client = app.test_client()
    before = scrape(client)
    holder = db._sqlite_module().connect(make_url(url).database, isolation_level=None)  # the app's own driver
    try:
        holder.execute("BEGIN IMMEDIATE")  # the write lock, held
        response = client.post(
            "/api/v1/sites",
            headers=registry.admin_headers,
            json={"code": "contended", "name": "Contended", "commune_code": registry.desks[0].commune_code},
        )
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.headers["Retry-After"] and response.get_json()["code"] == "database_busy"
        factory = app.extensions["session_factory"]
        with pytest.raises(DBAPIError, match="locked"):
            db.write_unit(factory, lambda session: session.execute(text("DELETE FROM scheduler_leases")))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    after = scrape(client)
    for outcome, expected in (("answered_503", 1), ("retried", db.WRITE_ATTEMPTS - 1), ("gave_up", 1)):
        assert (
            value(after, "camera_registry_database_errors_total", kind="locked", outcome=outcome)
            == value(before, "camera_registry_database_errors_total", kind="locked", outcome=outcome) + expected
        ), outcome
    assert (
        value(after, "camera_registry_http_requests_total", method="POST", route="/api/v1/sites", status="503")
        == value(before, "camera_registry_http_requests_total", method="POST", route="/api/v1/sites", status="503") + 1
    )
    # once the lock is free the same write goes through
    response = client.post(
        "/api/v1/sites",
        headers=registry.admin_headers,
        json={"code": "contended", "name": "Contended", "commune_code": registry.desks[0].commune_code},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


def test_serialisation_failures_are_retried_counted_and_given_up(contended, backend):
    if backend != "postgis":
        pytest.skip("PostgreSQL's serialisation failures; SpatiaLite: see the forced-contention test")
    app, _, _ = contended
    client = app.test_client()
    before = scrape(client)
    tries = []

    def conflicting(session):
        tries.append(1)
        session.execute(text("DO $$ BEGIN RAISE EXCEPTION 'conflict' USING ERRCODE = 'serialization_failure'; END $$"))

    with pytest.raises(DBAPIError):
        db.write_unit(app.extensions["session_factory"], conflicting)
    assert len(tries) == db.WRITE_ATTEMPTS
    after = scrape(client)
    assert (
        value(after, "camera_registry_database_errors_total", kind="serialization_failure", outcome="retried")
        == value(before, "camera_registry_database_errors_total", kind="serialization_failure", outcome="retried") + 2
    )
    assert (
        value(after, "camera_registry_database_errors_total", kind="serialization_failure", outcome="gave_up")
        == value(before, "camera_registry_database_errors_total", kind="serialization_failure", outcome="gave_up") + 1
    )


def test_gunicorn_workers_add_up_in_multiprocess_mode(own_database_url, tmp_path):
    """Two workers, PROMETHEUS_MULTIPROC_DIR set: /metrics counts the requests every worker answered."""
    web, base_url = start_web(
        own_database_url,
        tmp_path / "instance",
        tmp_path / "web.log",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="2",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "metrics"),
    )
    try:

        def healthz_total() -> float:
            response = requests.get(f"{base_url}/metrics", headers={"Connection": "close"}, timeout=10)
            assert response.status_code == 200
            return value(
                response.text, "camera_registry_http_requests_total", method="GET", route="/healthz", status="200"
            )

        def hit(count):
            for _ in range(count):  # a new connection each time, so both workers take some
                assert (
                    requests.get(f"{base_url}/healthz", headers={"Connection": "close"}, timeout=10).status_code == 200
                )

        before = healthz_total()
        threads = [threading.Thread(target=hit, args=(25,)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Several scrapes, answered by either worker: each adds up every worker's files, so all say the same.
        totals = {healthz_total() for _ in range(10)}
        assert totals == {before + 100}, (before, totals)
    finally:
        web.stop()
