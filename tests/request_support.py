"""For the footage request tests: a request's JSON body, and the API calls that open one and act on its assignments."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

#: The clock the request windows are set by.
NOW = datetime.now(UTC)
# lens-a stands at (105.8201, 21.02) looking east (bearing 90, fov 90, 30 m): this point is 10 m in front of it.
IN_VIEW = {"type": "Point", "coordinates": [105.8202, 21.02]}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def request_body(**overrides):
    """A request for the hour that ended two hours ago, in front of lens-a unless `incident` says otherwise."""
    return {
        "case_ref": "VV-2026-001",
        "reason": "Trộm xe máy",
        "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
        "incident": IN_VIEW,
        "window_start": iso(NOW - timedelta(hours=3)),
        "window_end": iso(NOW - timedelta(hours=2)),
        **overrides,
    }


def open_request(client, world, role="police_a", **overrides):
    return client.post("/api/v1/footage-requests", json=request_body(**overrides), headers=world.headers[role])


def act(client, world, assignment, action, role="police_a", **body):
    return client.post(f"/api/v1/assignments/{assignment['id']}/{action}", json=body, headers=world.headers[role])
