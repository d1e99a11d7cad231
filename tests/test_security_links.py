"""No usable owner link can be read from the database (or a backup of it), at any point of a message's life,
and the owner still gets a working one (issue 10, item 3).

The scan reads every text and JSON value of every table the service owns and
tries every token-shaped string in it against the stored link hashes, so a
link kept anywhere (an outbox body, a payload, an audit note) is found,
whether or not it follows "/o/".
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from notify_support import BASE_URL, routed_request, sessions_on
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from camera_registry import migrate
from camera_registry.db import make_engine
from camera_registry.models import MessageStatus, OutboxMessage, OwnerLink, SharingCommitment
from camera_registry.services.deadlines import invite_renewals, remind_unanswered
from camera_registry.services.delivery import CLAIM_LEASE, claim_due, deliver_due
from camera_registry.services.notifications import TOKEN_SLOT
from camera_registry.services.owner_links import LinkState, resolve_link

TOKEN_SHAPED = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
LINK = re.compile(r"https?://\S+/o/[A-Za-z0-9_-]+")


def values_at_rest(session: Session):
    """(table, column, text) for every string and JSON value of every table the service owns."""
    connection = session.connection()
    inspector = inspect(connection)
    for table in inspector.get_table_names():
        if not migrate.include_object(None, table, "table", True, None) or table.startswith(("idx_", "spatial")):
            continue
        columns = [column["name"] for column in inspector.get_columns(table)]
        for row in connection.execute(text(f'SELECT * FROM "{table}"')):
            for column, value in zip(columns, row):
                if isinstance(value, (dict, list)):
                    yield table, column, json.dumps(value, ensure_ascii=False)
                elif isinstance(value, str):
                    yield table, column, value


def usable_links_at_rest(session: Session) -> list[tuple[str, str, str]]:
    """Every token-shaped string stored anywhere whose hash is a stored owner link's (live or not)."""
    session.flush()
    hashes = set(session.scalars(select(OwnerLink.token_hash)))
    return [
        (table, column, candidate)
        for table, column, value in values_at_rest(session)
        for candidate in TOKEN_SHAPED.findall(value)
        if hashlib.sha256(candidate.encode()).hexdigest() in hashes
    ]


def received_links(webhook_receiver) -> list[str]:
    return [LINK.search(request.json()["text"]).group(0) for request in webhook_receiver.received]


def test_no_usable_link_at_rest_while_messages_wait_or_after_they_are_sent(
    client, world, session, notification_settings, webhook_receiver, smtp_receiver
):
    now = datetime.now(UTC)
    for commune in ("a", "b", "a"):
        routed_request(session, commune, now=now - timedelta(hours=25))
    commitment = session.get(SharingCommitment, world.objects["b"]["commitment"])
    commitment.valid_until = now + timedelta(days=20)
    session.flush()
    unconfigured = replace(notification_settings, webhook_url="", smtp_host="")
    sessions = sessions_on(session)
    assert remind_unanswered(sessions, unconfigured, now) == {"reminded": 3}
    assert invite_renewals(sessions, unconfigured, now) == {"invited": 1}
    assert deliver_due(sessions, unconfigured, now) == {}  # no channel: every message waits, for good
    session.expire_all()
    waiting = session.scalars(select(OutboxMessage)).all()
    assert len(waiting) == 14 and {message.status for message in waiting} == {MessageStatus.PENDING}
    assert all(f"/o/{TOKEN_SLOT}" in message.body for message in waiting if message.kind != "assignment.escalation")
    assert usable_links_at_rest(session) == []
    assert session.scalars(select(OwnerLink)).all() == []  # nothing minted before a send

    # The gateway is configured: every message goes out with a working link of its own, and still none is kept.
    assert deliver_due(sessions, notification_settings, now + timedelta(seconds=5)) == {"sent": 14}
    session.expire_all()
    links = received_links(webhook_receiver)
    assert len(links) == 7 and len(set(links)) == 7
    for link in links:
        assert resolve_link(session, link.rsplit("/o/", 1)[1]).state == LinkState.LIVE
    assert len(smtp_receiver.messages) == 7
    assert usable_links_at_rest(session) == []
    page = client.get("/o/" + links[0].rsplit("/o/", 1)[1])
    assert page.status_code == 200 and "VV-2026-001" in page.get_data(as_text=True)


def test_a_deliverer_that_dies_after_minting_leaves_no_usable_link_and_the_retry_sends_a_fresh_one(
    world, session, db_connection, notification_settings, webhook_receiver, smtp_receiver
):
    routed_request(session)
    now = datetime.now(UTC)
    doomed = Session(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    claimed = claim_due(doomed, notification_settings, now, "doomed")
    doomed.commit()
    doomed.close()  # died before sending: the tokens it minted were only in its memory
    lost = [LINK.search(message.body).group(0) for message in claimed]
    assert len(lost) == 2 and usable_links_at_rest(session) == []
    assert all(resolve_link(session, link.rsplit("/o/", 1)[1]).state == LinkState.LIVE for link in lost)  # hashed

    assert deliver_due(sessions_on(session), notification_settings, now + CLAIM_LEASE + timedelta(seconds=1)) == {
        "sent": 2
    }
    [sent] = received_links(webhook_receiver)
    assert sent not in lost and resolve_link(session, sent.rsplit("/o/", 1)[1]).state == LinkState.LIVE
    assert len(session.scalars(select(OwnerLink)).all()) == 4 and usable_links_at_rest(session) == []


def test_a_failed_try_and_its_retry_each_carry_their_own_link(
    world, session, notification_settings, webhook_receiver, smtp_receiver
):
    routed_request(session)
    webhook_receiver.fail_next(1, status=503)
    now = datetime.now(UTC)
    assert deliver_due(sessions_on(session), notification_settings, now) == {"retried": 1, "sent": 1}
    assert deliver_due(sessions_on(session), notification_settings, now + timedelta(seconds=30)) == {"sent": 1}
    first, second = received_links(webhook_receiver)
    assert first != second and len({request.headers["Idempotency-Key"] for request in webhook_receiver.received}) == 1
    # The first try may have reached the owner after all (a timeout): its link stays valid too.
    for link in (first, second):
        assert resolve_link(session, link.rsplit("/o/", 1)[1]).state == LinkState.LIVE
    assert usable_links_at_rest(session) == []


def test_the_migration_takes_the_raw_links_out_of_messages_written_before(database_server, backend):
    url = database_server.new_database("links")
    engine = make_engine(url)
    raw = f"{BASE_URL}/o/" + "x" * 43
    try:
        migrate.upgrade(engine, "0006")
        with engine.begin() as connection:
            for key, status in (("waiting", "pending"), ("sent", "sent")):
                connection.execute(
                    OutboxMessage.__table__.insert().values(
                        kind="assignment.request",
                        channel="webhook",
                        recipient="0912345678",
                        subject="",
                        body=f"Trả lời tại: {raw}",
                        payload={"assignment_id": 1, "link": raw},
                        idempotency_key=key,
                        status=status,
                        attempts=0,
                        next_attempt_at=datetime.now(UTC),
                        created_at=datetime.now(UTC),
                    )
                )
        migrate.upgrade(engine)
        with engine.connect() as connection:
            rows = {
                key: (body, payload)
                for key, body, payload in connection.execute(
                    select(OutboxMessage.idempotency_key, OutboxMessage.body, OutboxMessage.payload)
                )
            }
        slot = f"{BASE_URL}/o/{TOKEN_SLOT}"
        assert rows["waiting"] == (f"Trả lời tại: {slot}", {"assignment_id": 1, "link": slot})
        assert rows["sent"] == ("Trả lời tại: [liên kết đã gửi, không lưu]", {"assignment_id": 1})
    finally:
        engine.dispose()
        database_server.drop_database(url)
