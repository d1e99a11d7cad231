"""For the notification tests: real local receivers, requests routed through the service, and the jobs run
on the test's connection as the scheduler runs them.

The receivers (an HTTP webhook gateway and an SMTP server) listen on
127.0.0.1 and record what arrives; the gateway can be told to fail its next N
requests. Nothing of our own code is mocked.
"""

from __future__ import annotations

import email
import email.policy
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller
from shapely import Point
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from camera_registry.models import AuditEvent, FootageRequest, OutboxMessage, User
from camera_registry.services.access import Actor, actor_for
from camera_registry.services.requests import open_request

BASE_URL = "https://camera.example.vn"
# lens-a stands at (105.8201, 21.02) looking east, lens-b at (105.8701, 21.02): 10 m in front of each.
IN_VIEW = {"a": Point(105.8202, 21.02), "b": Point(105.8702, 21.02)}


@dataclass(frozen=True)
class ReceivedRequest:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)


class WebhookReceiver:
    """An SMS/Zalo gateway stand-in: answers 200, or `failure_status` while failures remain."""

    def __init__(self, on_receive: Callable[[ReceivedRequest], None] | None = None) -> None:
        self.received: list[ReceivedRequest] = []
        self.failures_left = 0
        self.failure_status = 500
        #: Called with each request after it is recorded and before it is answered (the soak test kills the
        #: deliverer there: the gateway has the message, the deliverer never learns it was accepted).
        self.on_receive = on_receive
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received = ReceivedRequest(self.path, dict(self.headers), body)
                with receiver._lock:
                    receiver.received.append(received)
                    failing = receiver.failures_left > 0
                    receiver.failures_left -= failing
                if receiver.on_receive is not None:
                    receiver.on_receive(received)
                try:
                    self.send_response(receiver.failure_status if failing else 200)
                    self.end_headers()
                    self.wfile.write(b"gateway down" if failing else b"queued")
                except OSError:
                    pass  # the sender is gone (killed mid-request): nobody to answer

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}/sms"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def fail_next(self, count: int, status: int = 500) -> None:
        self.failures_left, self.failure_status = count, status

    def snapshot(self) -> list[ReceivedRequest]:
        """What has arrived so far, safe to read while requests keep arriving."""
        with self._lock:
            return list(self.received)

    def idempotency_keys(self) -> Counter:
        """How many times each idempotency key arrived."""
        return Counter(request.headers.get("Idempotency-Key", "") for request in self.snapshot())

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class SmtpReceiver:
    """An aiosmtpd server that keeps every message it accepts, parsed."""

    def __init__(self, port: int) -> None:
        self.messages: list[email.message.EmailMessage] = []
        receiver = self

        class Handler:
            async def handle_DATA(self, server, session, envelope) -> str:
                receiver.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
                return "250 Message accepted for delivery"

        self.host, self.port = "127.0.0.1", port
        self._controller = Controller(Handler(), hostname=self.host, port=port)
        self._controller.start()

    def idempotency_keys(self) -> Counter:
        """How many times each idempotency key arrived (the deliverer sets an Idempotency-Key header)."""
        return Counter(str(message["Idempotency-Key"] or "") for message in list(self.messages))

    def close(self) -> None:
        self._controller.stop()


def police_of(session: Session, commune: str = "a") -> Actor:
    return actor_for(session, session.scalar(select(User).where(User.username == f"police-{commune}")))


def routed_request(session: Session, commune: str = "a", now: datetime | None = None, **fields) -> FootageRequest:
    """A request filed by the commune's police through the service, routed and announced at `now`."""
    now = now or datetime.now(UTC)
    values = {
        "case_ref": "VV-2026-001",
        "reason": "Trộm xe máy",
        "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
        "incident": IN_VIEW[commune],
        "window_start": now - timedelta(hours=3),
        "window_end": now - timedelta(hours=2),
        **fields,
    }
    return open_request(session, police_of(session, commune), public_base_url=BASE_URL, now=now, **values)


def messages(session: Session, **where) -> list[OutboxMessage]:
    """The outbox messages matching `where`, oldest first, as stored now."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .filter_by(**where)
            .order_by(OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )


def sessions_on(session: Session) -> sessionmaker:
    """A session factory on the test's connection, for code that runs its own write units.

    Each unit commits a savepoint of the test's transaction, so it sees what
    the test flushed and is rolled back with it.
    """
    return sessionmaker(bind=session.bind, join_transaction_mode="create_savepoint", expire_on_commit=False)


def run(job, session: Session, settings, now: datetime) -> Counter:
    """Run a job as the scheduler does, in write units of its own on the test's connection; then see what it did."""
    session.flush()
    counts = job(sessions_on(session), settings, now)
    session.expire_all()
    return counts


def audited(session: Session, action: str) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))
