"""Logs (camera_registry/logs.py, the request hooks in web/health.py, the job runner's line), on the run's backend."""

from __future__ import annotations

import io
import json
import logging
import re
from collections import Counter

import pytest
import requests
from soak_support import start_web

from camera_registry import logs
from camera_registry.jobs import scheduler

OWNER_TOKEN = "Zq3vX0-owner-link-token_abcdefghijklmnop"


@pytest.mark.parametrize(
    "text, expected",
    [
        (f"GET /o/{OWNER_TOKEN}/clip?x=1", "GET /o/<token>/clip?x=1"),
        (f"see http://127.0.0.1:5000/o/{OWNER_TOKEN}", "see http://127.0.0.1:5000/o/<token>"),
        ("Authorization: Bearer abcDEF123456789-_.", "Authorization: Bearer <redacted>"),
        ('{"token": "abcdefghijkl"}', '{"token": "<redacted>"}'),
        ("password=hunter2-hunter2 user=x", "password=<redacted> user=x"),
        ('{"password": "correct horse"}', '{"password": "<redacted>"}'),
        ("call 0912345678 now", "call <phone> now"),
        ("call 0912 345 678 or 024 3942 1234", "call <phone> or <phone>"),
        ("+84 912-345-678", "<phone>"),
    ],
)
def test_redact(text, expected):
    assert logs.redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "ms=12.5 status=200",
        "2026-01-05T10:00:00.123+00:00",
        "request_id=3f2a9c01b7e44d5e",
        "lenses=55000 rows=199999",
        "assignment 1234567",
    ],
)
def test_redact_leaves_ordinary_values(text):
    assert logs.redact(text) == text


def test_request_ids_are_taken_when_well_formed_else_made():
    assert logs.request_id_from("a3f9c2d4e5f60718293a4b5c6d7e8f90") == "a3f9c2d4e5f60718293a4b5c6d7e8f90"
    for bad in (None, "", "short", "x" * 200, "has space in it", "new\nline-injected-id", "<script>alert(1)</script>"):
        made = logs.request_id_from(bad)
        assert made != bad and re.fullmatch(r"[0-9a-f]{32}", made)


def records(caplog, name="camera_registry.requests"):
    return [record for record in caplog.records if record.name == name]


def test_one_line_per_request_with_its_id_and_no_token(client, caplog):
    with caplog.at_level(logging.INFO, logger="camera_registry"):
        response = client.get(
            f"/o/{OWNER_TOKEN}?phone=0912345678",
            headers={"X-Request-Id": "nginx-0123456789abcdef", "Authorization": "Bearer secret-token-xyz"},
        )
    assert response.headers["X-Request-Id"] == "nginx-0123456789abcdef"
    [record] = records(caplog)
    fields = record.fields
    assert fields["request_id"] == "nginx-0123456789abcdef" and fields["route"] == "/o/<token>"
    assert fields["path"] == "/o/<token>" and fields["status"] == response.status_code and fields["method"] == "GET"
    assert fields["query_keys"] == "phone" and isinstance(fields["ms"], float)
    line = logs.JsonFormatter().format(record)
    parsed = json.loads(line)
    assert parsed["message"] == "request" and parsed["route"] == "/o/<token>" and parsed["level"] == "INFO"
    for secret in (OWNER_TOKEN, "0912345678", "secret-token-xyz"):
        assert secret not in line and secret not in logs.TextFormatter().format(record)


def test_the_request_id_is_in_every_error_body_and_header(client, world):
    response = client.get("/api/v1/lenses/999999", headers=world.headers["admin"])
    assert response.status_code == 404
    body = response.get_json()
    assert body["request_id"] == response.headers["X-Request-Id"] and re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    unauthenticated = client.get("/api/v1/lenses", headers={"X-Request-Id": "lb-request-0001"})
    assert unauthenticated.status_code == 401 and unauthenticated.get_json()["request_id"] == "lb-request-0001"
    page = client.get("/no/such/page")
    assert page.status_code == 404 and page.headers["X-Request-Id"]


def test_lines_logged_during_a_request_carry_its_id(app, caplog):
    from camera_registry.web import health

    noisy = logging.getLogger("camera_registry.test_logs")
    with (
        caplog.at_level(logging.INFO, logger="camera_registry"),
        app.test_request_context("/anything", headers={"X-Request-Id": "req-abcdef123456"}),
    ):
        health._begin_request()
        noisy.warning("inside the request, phone 0987654321")
        [record] = records(caplog, "camera_registry.test_logs")
        text = logs.TextFormatter().format(record)  # as our handler does, while the request is handled
    assert "inside the request" in text and "request_id=req-abcdef123456" in text
    assert "<phone>" in text and "0987654321" not in text


def test_one_line_per_job_run(session, caplog, monkeypatch):
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(bind=session.connection(), join_transaction_mode="create_savepoint")

    def quiet(session_factory, settings, now):
        return Counter()

    def busy(session_factory, settings, now):
        return Counter(sent=3, dead=1)

    def broken(session_factory, settings, now):
        raise RuntimeError("the gateway said no to 0912345678")

    monkeypatch.setitem(scheduler.JOBS, "quiet", (quiet, 60))
    monkeypatch.setitem(scheduler.JOBS, "busy", (busy, 60))
    monkeypatch.setitem(scheduler.JOBS, "broken", (broken, 60))
    from camera_registry import config
    from camera_registry.services.notifications import NotificationSettings

    runner = scheduler.JobRunner(
        factory, NotificationSettings.from_config(config.from_environment()), holder="test-runner"
    )
    with caplog.at_level(logging.INFO, logger="camera_registry.jobs"):
        for name in ("quiet", "busy", "broken"):
            runner.run(name)
    lines = {
        record.fields["job"]: record
        for record in records(caplog, "camera_registry.jobs")
        if getattr(record, "fields", None)
    }
    assert lines["quiet"].fields["outcome"] == "ok" and lines["quiet"].getMessage() == "quiet: nothing to do"
    assert lines["busy"].fields == {
        "job": "busy",
        "outcome": "ok",
        "seconds": lines["busy"].fields["seconds"],
        "dead": 1,
        "sent": 3,
    }
    failed = json.loads(logs.JsonFormatter().format(lines["broken"]))
    assert failed["outcome"] == "failed" and failed["level"] == "ERROR" and "RuntimeError" in failed["exception"]
    assert "0912345678" not in json.dumps(failed) and "broken failed; it runs again" in failed["message"]


def test_configure_adds_one_handler_in_the_chosen_format(monkeypatch):
    root = logging.getLogger()
    saved = list(root.handlers)
    stream = io.StringIO()
    try:
        root.handlers = []
        logs.configure(logs.JSON, "INFO", stream=stream)
        logs.configure(logs.JSON, "INFO", stream=stream)  # again (a second app in the process): still one handler
        assert len(root.handlers) == 1
        logging.getLogger("camera_registry.test").info("hello %s", f"/o/{OWNER_TOKEN}")
        line = json.loads(stream.getvalue().strip())
        assert line["message"] == "hello /o/<token>" and line["logger"] == "camera_registry.test"
    finally:
        root.handlers = saved


def test_under_gunicorn_no_line_holds_an_owner_link(own_database_url, tmp_path):
    """The app's JSON lines and gunicorn's access lines, from a real process."""
    web, base_url = start_web(
        own_database_url,
        tmp_path / "instance",
        tmp_path / "web.log",
        WEB_CONCURRENCY="1",
        GUNICORN_THREADS="2",
        LOG_FORMAT="json",
    )
    try:
        answer = requests.get(
            f"{base_url}/o/{OWNER_TOKEN}", headers={"X-Request-Id": "drill-request-000042"}, timeout=10
        )
        assert answer.headers["X-Request-Id"] == "drill-request-000042"
    finally:
        web.stop()
    text = web.log_text()
    assert OWNER_TOKEN not in text
    app_lines = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    [line] = [line for line in app_lines if line.get("request_id") == "drill-request-000042"]
    assert line["route"] == "/o/<token>" and line["path"] == "/o/<token>"
    assert re.search(r'"GET /o/<token> HTTP/1.1" \d{3} .* id=drill-request-000042', text)  # gunicorn's access line
