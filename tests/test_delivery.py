"""Outbox delivery under locks, stops and crashes, and jobs that fail: on a database of their own.

These tests need connections that really compete (another one holding the
write lock, a scheduler in its own threads), so they cannot share the
rolled-back test transaction: a fresh database is migrated for the module.
Its connections give up waiting for a lock after LOCK_WAIT (SQLite's busy
timeout, PostgreSQL's lock_timeout), so a held lock makes a write fail, as
it does under load with the production timeouts, only sooner.
"""

from __future__ import annotations

import _thread
import dataclasses
import logging
import signal
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from notify_support import sessions_on
from sqlalchemy import Engine, delete, event, select
from sqlalchemy.orm import Session, sessionmaker

from camera_registry import migrate
from camera_registry.db import WRITE_LOCK_OPTION, is_sqlite, make_engine, make_session_factory, write_unit
from camera_registry.jobs import JOBS, JobRunner, build_scheduler
from camera_registry.jobs.scheduler import LEASE_NAME, LEASE_TTL, heartbeat_seconds
from camera_registry.models import (
    Channel,
    CommitmentChannel,
    MessageStatus,
    OutboxMessage,
    Owner,
    OwnerKind,
    SchedulerLease,
    SharingCommitment,
)
from camera_registry.models.base import utcnow
from camera_registry.services import delivery
from camera_registry.services.delivery import CLAIM_LEASE, claim_due, deliver_due, release_claims, renew_claims, send
from camera_registry.services.notifications import NotificationSettings

LOCK_WAIT_MS = 100
#: The deliverer runs every this many seconds (JOBS), so a dead deliverer's claims go out by CLAIM_LEASE plus this.
DELIVERY_INTERVAL = timedelta(seconds=JOBS["deliver_outbox"][1])


@dataclass
class Database:
    url: str
    sessions: sessionmaker  # the app's kind: write units begin with BEGIN IMMEDIATE on SQLite
    admin: Engine  # waits for locks as usual: the tests' own hand on the database


def give_up_waiting_soon(engine: Engine) -> Engine:
    """Make every new connection of `engine` wait at most LOCK_WAIT_MS for a lock."""
    sqlite = is_sqlite(engine)

    def on_connect(dbapi_connection, connection_record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_MS}" if sqlite else f"SET lock_timeout = {LOCK_WAIT_MS}")
        cursor.close()
        if not sqlite:
            dbapi_connection.commit()  # SET is transactional on PostgreSQL: keep it past the pool's rollback

    event.listen(engine, "connect", on_connect)
    return engine


@pytest.fixture(scope="module")
def database(database_server):
    url = database_server.new_database("delivery")
    admin = make_engine(url)
    migrate.upgrade(admin)
    engine = give_up_waiting_soon(make_engine(url))
    try:
        yield Database(url, make_session_factory(engine), admin)
    finally:
        engine.dispose()
        admin.dispose()
        database_server.drop_database(url)


@pytest.fixture()
def fresh(database):
    """The module's database with an empty outbox and no scheduler lease."""
    with database.admin.begin() as connection:
        for table in (OutboxMessage, SchedulerLease):  # the audit trail is append-only (migration 0007)
            connection.execute(delete(table))
    return database


def queue(sessions: sessionmaker, count: int, channel: Channel = Channel.WEBHOOK) -> list[str]:
    """`count` due messages written straight to the outbox, as a committed state change would leave them."""
    recipient = "0912345678" if channel == Channel.WEBHOOK else "a@example.vn"
    keys = [f"test:{uuid.uuid4().hex[:12]}:{channel.value}" for _ in range(count)]
    write_unit(
        sessions,
        lambda session: session.add_all(
            [
                OutboxMessage(
                    kind="test.message",
                    channel=channel,
                    recipient=recipient,
                    subject="Thử",
                    body=f"Tin {key}",
                    payload={},
                    idempotency_key=key,
                )
                for key in keys
            ]
        ),
    )
    return keys


def outbox(sessions: sessionmaker) -> dict[str, OutboxMessage]:
    with sessions() as session:
        return {message.idempotency_key: message for message in session.scalars(select(OutboxMessage))}


def arrived(webhook_receiver, smtp_receiver) -> Counter:
    return webhook_receiver.idempotency_keys() + smtp_receiver.idempotency_keys()


class WriteLock:
    """Another connection holding the write lock on the outbox for a while, as a busy web server's writes do."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine.execution_options(**{WRITE_LOCK_OPTION: True})
        self.threads: list[threading.Thread] = []

    def hold(self, seconds: float) -> None:
        """Take the lock (returns once it is held) and give it up `seconds` later, from a thread of its own."""
        taken = threading.Event()

        def holder() -> None:
            with self.engine.connect() as connection, connection.begin():
                if not is_sqlite(connection):  # SQLite's BEGIN IMMEDIATE took it already
                    connection.exec_driver_sql("LOCK TABLE outbox_messages IN EXCLUSIVE MODE")
                taken.set()
                time.sleep(seconds)

        thread = threading.Thread(target=holder, daemon=True)
        thread.start()
        self.threads.append(thread)
        assert taken.wait(10), "could not take the write lock"

    def join(self) -> None:
        for thread in self.threads:
            thread.join(10)


# --------------------------------------------------------------------------- recording under a lock


def test_a_send_whose_record_meets_a_lock_is_recorded_later_not_sent_again(
    fresh, notification_settings, webhook_receiver, smtp_receiver, caplog
):
    """The issue's failure: the lock hit after sending left the batch leased, and the messages went again."""
    keys = queue(fresh.sessions, 3) + queue(fresh.sessions, 1, Channel.EMAIL)
    lock = WriteLock(fresh.admin)
    # While the gateway has the first message, a writer takes the lock and keeps it for 2.5 s.
    webhook_receiver.on_receive = lambda received: len(webhook_receiver.received) == 1 and lock.hold(2.5)
    now = utcnow()
    with caplog.at_level(logging.WARNING, logger="camera_registry.delivery"):
        assert deliver_due(fresh.sessions, notification_settings, now) == {"sent": 4}
    lock.join()
    assert "recording its outcome failed" in caplog.text  # the record did fail, and was tried again
    messages = outbox(fresh.sessions)
    assert {(m.status, m.attempts, m.leased_until, m.lease_holder) for m in messages.values()} == {
        (MessageStatus.SENT, 1, None, None)
    }
    # Long after any claim ran out, nothing goes again: every key reached its receiver once.
    assert deliver_due(fresh.sessions, notification_settings, now + CLAIM_LEASE + DELIVERY_INTERVAL) == {}
    assert arrived(webhook_receiver, smtp_receiver) == Counter(keys)


@pytest.fixture()
def ctrl_c():
    """Ctrl-C raising KeyboardInterrupt, as in a terminal: a shell's background job (make test runs the two
    backends so) starts with SIGINT ignored, and then _thread.interrupt_main() does nothing."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_run_stopped_mid_batch_gives_back_the_claims_it_did_not_use(
    fresh, notification_settings, webhook_receiver, smtp_receiver, ctrl_c
):
    keys = queue(fresh.sessions, 4)
    # Ctrl-C while the deliverer waits for the gateway's answer to the first message.
    webhook_receiver.on_receive = lambda received: len(webhook_receiver.received) == 1 and _thread.interrupt_main()
    now = utcnow()
    with pytest.raises(KeyboardInterrupt):
        deliver_due(fresh.sessions, notification_settings, now)
    webhook_receiver.on_receive = None
    [in_flight] = webhook_receiver.idempotency_keys()
    messages = outbox(fresh.sessions)
    # The one at the gateway may have gone: it keeps its claim. The others are free at once.
    assert messages[in_flight].status == MessageStatus.SENT or messages[in_flight].lease_holder is not None
    released = [key for key in keys if key != in_flight]
    assert {(messages[key].leased_until, messages[key].lease_holder) for key in released} == {(None, None)}
    assert deliver_due(fresh.sessions, notification_settings, now + timedelta(seconds=1)) == {"sent": 3}
    deliver_due(fresh.sessions, notification_settings, now + CLAIM_LEASE + DELIVERY_INTERVAL)
    assert {message.status for message in outbox(fresh.sessions).values()} == {MessageStatus.SENT}
    received = webhook_receiver.idempotency_keys()
    assert set(received) == set(keys) and all(received[key] == 1 for key in released)


# --------------------------------------------------------------------------- crashed deliverers and claims


def test_a_crashed_deliverers_claims_go_out_within_two_minutes(
    session, notification_settings, webhook_receiver, smtp_receiver
):
    sessions = sessions_on(session)
    keys = [queue(sessions, 1)[0] for _ in range(3)]
    now = utcnow()
    crashed = write_unit(sessions, lambda unit: claim_due(unit, notification_settings, now, "crashed"))
    assert [message.idempotency_key for message in crashed] == keys
    send(crashed[0], notification_settings)  # it got one message out, then died before recording it

    assert deliver_due(sessions, notification_settings, now + CLAIM_LEASE - timedelta(seconds=1)) == {}  # still claimed
    picked_up = now + CLAIM_LEASE + DELIVERY_INTERVAL
    assert picked_up - now <= timedelta(minutes=2)
    assert deliver_due(sessions, notification_settings, picked_up) == {"sent": 3}
    # At least once: only the message sent and never recorded went twice, with its one key.
    assert webhook_receiver.idempotency_keys() == Counter({keys[0]: 2, keys[1]: 1, keys[2]: 1})


def test_a_deliverer_renews_and_releases_only_its_own_claims(session, notification_settings):
    sessions = sessions_on(session)
    queue(sessions, 2)
    now = utcnow()
    slow = write_unit(sessions, lambda unit: claim_due(unit, notification_settings, now, "slow"))
    ids = [message.id for message in slow]
    renewed_until = now + timedelta(seconds=30) + CLAIM_LEASE
    assert write_unit(sessions, lambda unit: renew_claims(unit, "slow", ids, renewed_until)) == set(ids)
    # Renewed: another deliverer finds nothing free when the first claim would have run out.
    expired_first = now + CLAIM_LEASE + timedelta(seconds=1)
    assert write_unit(sessions, lambda unit: claim_due(unit, notification_settings, expired_first, "other")) == []
    # Once it runs out unrenewed, another deliverer takes the messages, and the first may neither renew nor free them.
    taken = write_unit(
        sessions, lambda unit: claim_due(unit, notification_settings, renewed_until + timedelta(seconds=1), "other")
    )
    assert [message.id for message in taken] == ids
    assert write_unit(sessions, lambda unit: renew_claims(unit, "slow", ids, renewed_until + CLAIM_LEASE)) == set()
    write_unit(sessions, lambda unit: release_claims(unit, "slow", ids))
    assert {message.lease_holder for message in outbox(sessions).values()} == {"other"}


def test_a_live_deliverer_renews_its_claims_through_a_slow_batch(
    fresh, notification_settings, webhook_receiver, monkeypatch
):
    """Renewal starts once a claim has less than SEND_MARGIN left; here that is after half a second, not 30 s."""
    monkeypatch.setattr(delivery.claims, "SEND_MARGIN", CLAIM_LEASE - timedelta(seconds=0.5))
    keys = queue(fresh.sessions, 3)
    claims_seen: list[datetime] = []

    def slow_gateway(received) -> None:
        with fresh.admin.connect() as connection:
            claims_seen.append(
                connection.execute(
                    select(OutboxMessage.leased_until).where(OutboxMessage.idempotency_key == keys[-1])
                ).scalar_one()
            )
        time.sleep(0.6)

    webhook_receiver.on_receive = slow_gateway
    now = utcnow()
    assert deliver_due(fresh.sessions, notification_settings, now) == {"sent": 3}
    assert claims_seen[0] == now + CLAIM_LEASE and claims_seen[0] < claims_seen[1] < claims_seen[2]
    assert webhook_receiver.idempotency_keys() == Counter(keys)


def test_every_try_of_a_message_carries_the_same_idempotency_key(
    session, notification_settings, webhook_receiver, smtp_receiver
):
    sessions = sessions_on(session)
    [webhook_key] = queue(sessions, 1)
    [email_key] = queue(sessions, 1, Channel.EMAIL)
    now = utcnow()
    webhook_receiver.fail_next(1)
    assert deliver_due(sessions, notification_settings, now) == {"retried": 1, "sent": 1}  # try 1 fails
    crashed_at = now + timedelta(hours=1)
    [claimed] = write_unit(sessions, lambda unit: claim_due(unit, notification_settings, crashed_at, "crashed"))
    send(claimed, notification_settings)  # try 2: sent by a deliverer that died before recording it
    assert deliver_due(sessions, notification_settings, crashed_at + CLAIM_LEASE + DELIVERY_INTERVAL) == {"sent": 1}
    tries = webhook_receiver.received
    assert len(tries) == 3 and {request.headers["Idempotency-Key"] for request in tries} == {webhook_key}
    assert {request.json()["idempotency_key"] for request in tries} == {webhook_key}
    assert len({request.body for request in tries}) == 1  # the same signed bytes every time
    assert [mail["Idempotency-Key"] for mail in smtp_receiver.messages] == [email_key]


# --------------------------------------------------------------------------- jobs that fail


def _renewal_due(sessions: sessionmaker) -> None:
    """An owner whose commitment runs out in 20 days: invite_renewals has work to do."""

    def add(session: Session) -> None:
        owner = Owner(
            external_id=f"owner-{uuid.uuid4().hex[:8]}",
            kind=OwnerKind.HOUSEHOLD,
            name="Chủ nhà",
            phone="0912345678",
            email="a@example.vn",
        )
        session.add(
            SharingCommitment(
                owner=owner,
                all_recorders=True,
                signed_at=utcnow() - timedelta(days=300),
                valid_until=utcnow() + timedelta(days=20),
                channel=CommitmentChannel.PAPER,
                text_version="2024.1",
            )
        )

    write_unit(sessions, add)


class MissingTable:
    """The commitments table renamed away: invite_renewals fails with a database error, the other jobs do not."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _rename(self, old: str, new: str) -> None:
        with self.engine.begin() as connection:
            connection.exec_driver_sql(f"ALTER TABLE {old} RENAME TO {new}")

    def __enter__(self) -> None:
        self._rename("sharing_commitments", "sharing_commitments_away")

    def __exit__(self, *exc) -> None:
        self._rename("sharing_commitments_away", "sharing_commitments")


def invitations(sessions: sessionmaker) -> list[OutboxMessage]:
    return [message for message in outbox(sessions).values() if message.kind == "commitment.renewal"]


def test_a_job_that_fails_is_logged_and_runs_at_its_next_tick(
    fresh, notification_settings, webhook_receiver, smtp_receiver, caplog
):
    _renewal_due(fresh.sessions)
    [waiting] = queue(fresh.sessions, 1)
    runner = JobRunner(fresh.sessions, notification_settings, "only")
    now = utcnow()
    with MissingTable(fresh.admin), caplog.at_level(logging.ERROR, logger="camera_registry.jobs"):
        assert runner.run("invite_renewals", now) is None
        assert runner.run("deliver_outbox", now) == {"sent": 1}  # the others carry on
        assert runner.run("expire_overdue", now) == {}
    assert "invite_renewals failed" in caplog.text and "sharing_commitments" in caplog.text
    assert webhook_receiver.idempotency_keys() == Counter([waiting])
    assert runner.run("invite_renewals", now + timedelta(hours=1)) == {"invited": 1}  # its next tick
    assert runner.run("invite_renewals", now + timedelta(hours=2)) == {}  # and only once


def test_the_scheduler_keeps_every_job_running_through_a_failing_one(
    fresh, notification_settings, webhook_receiver, smtp_receiver, caplog
):
    runner = JobRunner(fresh.sessions, notification_settings, "only")
    scheduler = build_scheduler(runner, BackgroundScheduler)
    scheduler.start(paused=True)
    try:
        for job in scheduler.get_jobs():
            job.reschedule("interval", seconds=0.3)  # every job, the heartbeat too, ticks often enough to watch
        _renewal_due(fresh.sessions)
        with MissingTable(fresh.admin), caplog.at_level(logging.ERROR, logger="camera_registry.jobs"):
            scheduler.resume()
            [waiting] = queue(fresh.sessions, 1)
            assert wait_for(lambda: caplog.text.count("invite_renewals failed") >= 2)
            assert wait_for(lambda: webhook_receiver.idempotency_keys()[waiting] == 1)  # delivery went on
            with fresh.admin.connect() as connection:
                lease = connection.execute(
                    select(SchedulerLease.expires_at).where(SchedulerLease.name == LEASE_NAME)
                ).scalar_one()
        assert wait_for(lambda: len(invitations(fresh.sessions)) == 2)  # the table is back: the next tick invites
        assert wait_for(lambda: {m.status for m in invitations(fresh.sessions)} == {MessageStatus.SENT})
        with fresh.admin.connect() as connection:
            assert (
                connection.execute(
                    select(SchedulerLease.expires_at).where(SchedulerLease.name == LEASE_NAME)
                ).scalar_one()
                > lease
            )
        assert scheduler.running and {job.id for job in scheduler.get_jobs()} == {*JOBS, "lease_heartbeat"}
    finally:
        scheduler.shutdown(wait=True)
    assert len(invitations(fresh.sessions)) == 2  # one per channel, however many ticks ran


def wait_for(condition, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_claim_lease_is_a_setting(session, notification_settings, webhook_receiver, smtp_receiver):
    """NOTIFY_CLAIM_LEASE_SECONDS: a shorter lease hands a dead deliverer's claims on sooner."""
    settings = dataclasses.replace(notification_settings, claim_lease_seconds=20)
    sessions = sessions_on(session)
    queue(sessions, 1)
    now = utcnow()
    [claimed] = write_unit(sessions, lambda unit: claim_due(unit, settings, now, "crashed"))
    assert claimed.leased_until == now + timedelta(seconds=20)
    assert deliver_due(sessions, settings, now + timedelta(seconds=19)) == {}
    assert deliver_due(sessions, settings, now + timedelta(seconds=21)) == {"sent": 1}


def test_the_leases_are_read_from_the_configuration(_app):
    settings = NotificationSettings.from_config(
        {**_app.config, "NOTIFY_CLAIM_LEASE_SECONDS": 20.0, "SCHEDULER_LEASE_SECONDS": 8.0}
    )
    assert (settings.claim_lease, settings.jobs_lease) == (timedelta(seconds=20), timedelta(seconds=8))
    assert heartbeat_seconds(settings) == 2  # three beats and more fit in the lease
    defaults = NotificationSettings.from_config(_app.config)
    assert (defaults.claim_lease, defaults.jobs_lease) == (CLAIM_LEASE, LEASE_TTL)
