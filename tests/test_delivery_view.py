"""Police see, per owner, whether their messages arrived (issue 13, item 2): on the request page, in Vietnamese
and in English, and in the API's request detail; never a message's body, link token or recipient."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from camera_registry.models import Channel, MessageStatus, OutboxMessage

#: Recent enough for the request window, far enough that the page's clock does not matter.
NOW = datetime.now(UTC).replace(microsecond=0)
TOKEN = "link-token-Zq9xWv3Kp"
RECIPIENT = "84987654321"
#: When each message was queued; the receipts come minutes later.
QUEUED = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)  # 08:05 in Vietnam


def _message(assignment_id: int, key: str, kind: str, channel: Channel, minutes: int, **state) -> OutboxMessage:
    return OutboxMessage(
        kind=kind,
        channel=channel,
        recipient=RECIPIENT,
        body=f"Xin mời ông/bà mở https://camera.example.vn/o/{TOKEN}",
        payload={"link": f"https://camera.example.vn/o/{TOKEN}"},
        idempotency_key=f"delivery-view:{key}",
        assignment_id=assignment_id,
        created_at=QUEUED + timedelta(minutes=minutes),
        **state,
    )


@pytest.fixture()
def routed(client, world, session):
    """A routed request of commune A whose owner's messages went every way: a ZNS refused and its SMS fallback
    delivered, a reminder sent and one on e-mail still queued, one given up on; plus an escalation to the police."""
    response = client.post(
        "/api/v1/footage-requests",
        json={
            "case_ref": "VV-2026-013",
            "reason": "Trộm xe máy",
            "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
            "incident": {"type": "Point", "coordinates": [105.8202, 21.02]},
            "window_start": (NOW - timedelta(hours=3)).isoformat(),
            "window_end": (NOW - timedelta(hours=2)).isoformat(),
        },
        headers=world.headers["police_a"],
    )
    assert response.status_code == 201, response.get_json()
    request = response.get_json()
    assignment_id = request["assignments"][0]["id"]
    at = QUEUED
    zns = _message(
        assignment_id,
        "zns",
        "assignment.request",
        Channel.ZNS,
        0,
        status=MessageStatus.FAILED,
        provider="zns",
        sent_at=at,
        failed_at=at + timedelta(minutes=1),
        receipt_detail="-114: user inactive",
    )
    session.add(zns)
    session.flush()
    sms = _message(
        assignment_id,
        "sms",
        "assignment.request",
        Channel.SMS,
        2,
        status=MessageStatus.DELIVERED,
        provider="esms",
        sent_at=at + timedelta(minutes=2),
        delivered_at=at + timedelta(minutes=4),
        falls_back_from_id=zns.id,
    )
    reminder = _message(
        assignment_id,
        "reminder",
        "assignment.reminder",
        Channel.SMS,
        60,
        status=MessageStatus.SENT,
        provider="esms",
        sent_at=at + timedelta(minutes=61),
    )
    queued = _message(assignment_id, "queued", "assignment.reminder", Channel.EMAIL, 120)
    dead = _message(assignment_id, "dead", "assignment.reminder", Channel.WEBHOOK, 90, status=MessageStatus.DEAD)
    escalation = _message(assignment_id, "escalation", "assignment.escalation", Channel.SMS, 180)
    session.add_all([sms, reminder, queued, dead, escalation])
    session.commit()
    ours = {"zns": zns, "sms": sms, "reminder": reminder, "queued": queued, "dead": dead}
    return request["id"], assignment_id, {name: message.id for name, message in ours.items()}, escalation.id


def _items(html: str) -> dict[int, str]:
    """The page's delivery lines by message id, their markup stripped and spaces folded."""
    return {
        int(number): " ".join(re.sub(r"<[^>]+>", " ", text).split())
        for number, text in re.findall(r'<li data-message="(\d+)">(.*?)</li>', html, flags=re.S)
    }


def _page(client, world, request_id: int, query: str = "") -> str:
    response = client.get(f"/requests/{request_id}{query}", headers=world.headers["police_a"])
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_page_shows_each_owner_message_in_vietnamese_newest_first_with_vietnam_times(client, world, routed):
    request_id, _, ids, escalation_id = routed
    html = _page(client, world, request_id)
    items = _items(html)
    assert items[ids["zns"]] == f"#{ids['zns']} đề nghị · tin Zalo: không đến được 30/11/2026 08:06"
    assert items[ids["sms"]] == (
        f"#{ids['sms']} đề nghị · tin nhắn SMS: đã đến máy 30/11/2026 08:09 (thay cho tin #{ids['zns']})"
    )
    assert items[ids["reminder"]] == f"#{ids['reminder']} nhắc lại · tin nhắn SMS: đã gửi 30/11/2026 09:06"
    assert items[ids["dead"]] == f"#{ids['dead']} nhắc lại · tin qua cổng: đã ngừng gửi 30/11/2026 09:35"
    assert items[ids["queued"]] == f"#{ids['queued']} nhắc lại · thư điện tử: đang chờ gửi 30/11/2026 10:05"
    ours = [number for number in items if number in ids.values()]
    assert ours == [ids[name] for name in ("queued", "dead", "reminder", "sms", "zns")]
    assert escalation_id not in items, "the escalation goes to the police, not the owner"
    assert "Tin nhắn gửi chủ camera" in html


def test_the_page_shows_the_deliveries_in_english_when_asked(client, world, routed):
    request_id, _, ids, _ = routed
    items = _items(_page(client, world, request_id, "?lang=en"))
    assert items[ids["sms"]] == (
        f"#{ids['sms']} request · SMS message: delivered 30/11/2026 08:09 (replaces message #{ids['zns']})"
    )
    assert items[ids["zns"]] == f"#{ids['zns']} request · Zalo message: failed 30/11/2026 08:06"
    assert items[ids["reminder"]] == f"#{ids['reminder']} reminder · SMS message: sent 30/11/2026 09:06"
    assert items[ids["dead"]] == f"#{ids['dead']} reminder · gateway message: gave up 30/11/2026 09:35"
    assert items[ids["queued"]] == f"#{ids['queued']} reminder · e-mail message: queued 30/11/2026 10:05"


def test_the_page_shows_no_body_link_or_recipient(client, world, routed):
    request_id, *_ = routed
    for query in ("", "?lang=en"):
        html = _page(client, world, request_id, query)
        assert TOKEN not in html
        assert RECIPIENT not in html
        assert "Xin mời ông/bà mở" not in html
        assert "-114" not in html


def test_the_api_detail_lists_each_assignments_deliveries_without_recipient_or_body(client, world, routed, session):
    request_id, assignment_id, ids, escalation_id = routed
    response = client.get(f"/api/v1/footage-requests/{request_id}", headers=world.headers["police_a"])
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert TOKEN not in text and RECIPIENT not in text and "Xin mời" not in text
    (assignment,) = response.get_json()["assignments"]
    deliveries = {delivery["id"]: delivery for delivery in assignment["deliveries"]}
    assert escalation_id not in deliveries
    routed_ids = session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.assignment_id == assignment_id, OutboxMessage.kind != "assignment.escalation"
        )
    ).all()
    assert set(deliveries) == set(routed_ids)
    assert [d["id"] for d in assignment["deliveries"] if d["id"] in ids.values()] == [
        ids[name] for name in ("queued", "dead", "reminder", "sms", "zns")
    ]
    sms = deliveries[ids["sms"]]
    assert set(sms) == {
        "id",
        "kind",
        "channel",
        "status",
        "created_at",
        "sent_at",
        "delivered_at",
        "failed_at",
        "falls_back_from_id",
    }
    assert (sms["kind"], sms["channel"], sms["status"], sms["falls_back_from_id"]) == (
        "assignment.request",
        "sms",
        "delivered",
        ids["zns"],
    )
    assert datetime.fromisoformat(sms["delivered_at"]) == QUEUED + timedelta(minutes=4)
    zns = deliveries[ids["zns"]]
    assert (zns["channel"], zns["status"], zns["delivered_at"]) == ("zns", "failed", None)
    assert datetime.fromisoformat(zns["failed_at"]) == QUEUED + timedelta(minutes=1)
    queued = deliveries[ids["queued"]]
    assert (queued["channel"], queued["status"], queued["sent_at"]) == ("email", "pending", None)
    assert deliveries[ids["dead"]]["status"] == "dead"


def test_the_openapi_documents_the_deliveries(client):
    document = client.get("/api/openapi.json").get_json()
    delivery = document["components"]["schemas"]["Delivery"]["properties"]
    assert {"kind", "channel", "status", "created_at", "sent_at", "delivered_at", "failed_at"} <= set(delivery)
    assert not {"recipient", "body", "payload"} & set(delivery)
    assignment = document["components"]["schemas"]["AssignmentDeliveries"]["properties"]
    assert assignment["deliveries"]["items"]["$ref"].endswith("/Delivery")
