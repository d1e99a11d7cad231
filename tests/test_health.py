"""/healthz and /readyz (web/health.py, services/readiness.py), on the run's backend.

The last test is the issue's "done when": with a real scheduler process beside the app, /readyz is
ready while it runs, unready once it stops, and ready again when it returns.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from database_support import app_of_its_own
from soak_support import start_scheduler
from sqlalchemy import delete

from camera_registry import migrate
from camera_registry.jobs.scheduler import LEASE_NAME
from camera_registry.models import Channel, OutboxMessage, SchedulerLease
from camera_registry.models.base import utcnow
from camera_registry.services import readiness


def hold_lease(session, expires_in: timedelta) -> None:
    session.execute(delete(SchedulerLease).where(SchedulerLease.name == LEASE_NAME))
    session.add(SchedulerLease(name=LEASE_NAME, holder="test-host:1:abc", expires_at=utcnow() + expires_in))
    session.commit()


def due_message(session, channel: Channel, due_for: timedelta) -> None:
    session.add(
        OutboxMessage(
            kind="assignment.request",
            channel=channel,
            recipient="0912345678",
            body="x",
            idempotency_key=f"health-{channel.value}-{due_for.total_seconds()}",
            next_attempt_at=utcnow() - due_for,
        )
    )
    session.commit()


def test_healthz_answers_without_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_ready_when_every_check_passes(client, session):
    hold_lease(session, timedelta(seconds=45))
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "migrations", "scheduler", "outbox", "channels"}
    assert all(check["ok"] for check in body["checks"].values())
    assert "at head" in body["checks"]["migrations"]["reason"]
    assert "test-host" not in response.get_data(as_text=True)  # not even the scheduler's host name


def test_unready_when_the_lease_ran_out(client, session):
    hold_lease(session, timedelta(seconds=-5))
    response = client.get("/readyz")
    body = response.get_json()
    assert response.status_code == 503 and body["status"] == "unready"
    assert body["checks"]["scheduler"] == {
        "ok": False,
        "reason": "the jobs lease ran out 5 s ago: no scheduler is running",
    }
    assert body["checks"]["database"]["ok"] and body["checks"]["outbox"]["ok"]


def test_unready_when_no_scheduler_ever_ran(client, session):
    session.execute(delete(SchedulerLease))
    session.commit()
    body = client.get("/readyz").get_json()
    assert (
        not body["checks"]["scheduler"]["ok"]
        and "start `camera-registry scheduler`" in body["checks"]["scheduler"]["reason"]
    )


def test_a_stuck_outbox_is_unready_only_for_a_configured_channel(app, client, session, monkeypatch):
    hold_lease(session, timedelta(seconds=45))
    due_message(session, Channel.WEBHOOK, timedelta(hours=1))
    monkeypatch.setitem(app.config, "NOTIFY_WEBHOOK_URL", "")
    waiting = client.get("/readyz")
    assert waiting.status_code == 200
    assert "webhook: no gateway configured (1 waiting)" in waiting.get_json()["checks"]["outbox"]["reason"]

    monkeypatch.setitem(app.config, "NOTIFY_WEBHOOK_URL", "https://gateway.example/send")
    monkeypatch.setitem(app.config, "NOTIFY_WEBHOOK_SECRET", "secret")
    stuck = client.get("/readyz")
    outbox = stuck.get_json()["checks"]["outbox"]
    assert stuck.status_code == 503 and not outbox["ok"]
    assert "webhook: 1 due, the oldest for 3600 s" in outbox["reason"]
    assert "0912345678" not in stuck.get_data(as_text=True)  # no recipient, ever

    monkeypatch.setitem(app.config, "READYZ_OUTBOX_MAX_AGE_SECONDS", 7200)
    assert client.get("/readyz").status_code == 200


def test_an_sms_gateway_counts_as_configured_by_the_deliverers_rule(app, client, session, monkeypatch):
    """/readyz once knew only the webhook and SMTP, so a stuck SMS outbox never made it unready."""
    hold_lease(session, timedelta(seconds=45))
    due_message(session, Channel.SMS, timedelta(hours=1))
    waiting = client.get("/readyz")
    assert waiting.status_code == 200
    assert "sms: no gateway configured (1 waiting)" in waiting.get_json()["checks"]["outbox"]["reason"]

    for key, value in {
        "CHANNEL_ESMS_API_KEY": "key",
        "CHANNEL_ESMS_SECRET_KEY": "secret",
        "CHANNEL_ESMS_BRANDNAME": "CAMERA",
        "CHANNEL_ESMS_CALLBACK_SECRET": "callback-secret",
    }.items():
        monkeypatch.setitem(app.config, key, value)
    stuck = client.get("/readyz")
    assert stuck.status_code == 503
    assert "sms: 1 due, the oldest for 3600 s" in stuck.get_json()["checks"]["outbox"]["reason"]


def test_a_database_behind_the_head_is_unready_and_a_newer_one_is_ready(session):
    [head] = migrate.head_revisions()
    behind = readiness.check_migrations(session, heads=["a-revision-after-" + head], known=lambda revision: True)
    assert not behind.ok and "run `camera-registry db upgrade`" in behind.reason
    newer = readiness.check_migrations(session, heads=["0001"], known=lambda revision: revision == "0001")
    assert newer.ok and f"at {head}, newer than this release's head 0001" in newer.reason
    assert readiness.check_migrations(session, heads=[head], known=migrate.is_known_revision).ok


def test_a_check_that_fails_is_reported_and_the_others_still_run(session):
    def broken(revision):
        raise RuntimeError("boom")

    checks = readiness.readiness(
        session,
        now=utcnow(),
        heads=["not-the-head"],
        known=broken,
        lease_name=LEASE_NAME,
        outbox_max_age=timedelta(minutes=15),
        configured_channels=set(),
    )
    by_name = {check.name: check for check in checks}
    assert by_name["migrations"] == readiness.Check("migrations", False, "could not check: RuntimeError")
    assert by_name["database"].ok and by_name["outbox"].ok


def wait_for_status(client, status: int, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = client.get("/readyz")
        if response.status_code == status or time.monotonic() > deadline:
            return {"status_code": response.status_code, **response.get_json()}
        time.sleep(0.25)


@pytest.fixture()
def fresh_app(database_server):
    """An app on a database of its own, migrated, so another process (the scheduler) sees its commits."""
    with app_of_its_own(database_server, "readyz", TESTING=True, NOTIFY_WEBHOOK_URL="", SMTP_HOST="") as app:
        migrate.upgrade(app.extensions["engine"])
        yield app, app.config["DATABASE_URL"], Path(app.instance_path)


def test_readyz_follows_the_scheduler_process(fresh_app):
    app, url, instance = fresh_app
    client = app.test_client()
    assert client.get("/readyz").status_code == 503  # no scheduler yet
    scheduler = start_scheduler(url, instance, instance / "scheduler-1.log")
    try:
        ready = wait_for_status(client, 200)
        assert ready["status_code"] == 200, (ready, scheduler.log_text()[-2000:])
    finally:
        scheduler.stop()  # SIGTERM: it gives the lease up at once
    stopped = wait_for_status(client, 503, timeout=30)
    assert stopped["status_code"] == 503 and not stopped["checks"]["scheduler"]["ok"], stopped
    assert "no scheduler is running" in stopped["checks"]["scheduler"]["reason"]
    scheduler = start_scheduler(url, instance, instance / "scheduler-2.log")
    try:
        back = wait_for_status(client, 200)
        assert back["status_code"] == 200, back
    finally:
        scheduler.stop()
