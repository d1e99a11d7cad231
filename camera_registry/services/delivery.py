"""The deliverer: sends outbox messages through the SMS/Zalo webhook and SMTP, at least once.

A message is first claimed by setting its lease with a conditional UPDATE
(SELECT ... FOR UPDATE does nothing on SQLite) and the claim is committed
before anything is sent. A deliverer that dies mid-batch leaves its messages
leased; when the lease runs out another deliverer sends them again with the
same idempotency key, so nothing is lost and the gateway can drop a repeat.
Each outcome is committed as soon as it is known: sent, retried later with
exponential backoff, or dead (audited) after the configured number of tries.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage

import requests
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from ..models import Channel, MessageStatus, OutboxMessage
from ..models.base import utcnow
from .access import SYSTEM
from .audit import record
from .notifications import NotificationSettings

BATCH_SIZE = 20
SEND_TIMEOUT_SECONDS = 10
#: Long enough for a whole batch to time out on every step of SMTP, so a live deliverer keeps its claim.
CLAIM_LEASE = timedelta(seconds=BATCH_SIZE * SEND_TIMEOUT_SECONDS * 3)
MAX_BACKOFF = timedelta(hours=1)
MAX_ERROR_LENGTH = 1000


class DeliveryFailed(Exception):
    """A send did not succeed; the message is tried again later."""


def missing_settings(settings: NotificationSettings, channel: Channel) -> str | None:
    """Why `channel` cannot send now, or None when it is configured."""
    if channel == Channel.WEBHOOK:
        missing = [name for name, value in (("NOTIFY_WEBHOOK_URL", settings.webhook_url),
                                            ("NOTIFY_WEBHOOK_SECRET", settings.webhook_secret)) if not value]
    else:
        missing = [] if settings.smtp_host else ["SMTP_HOST"]
    return f"not sent: {' and '.join(missing)} not configured; waiting" if missing else None


def backoff(settings: NotificationSettings, attempts: int) -> timedelta:
    """Wait before try `attempts + 1`: the base, doubled after each failure, at most an hour."""
    return min(timedelta(seconds=settings.backoff_seconds * 2 ** (attempts - 1)), MAX_BACKOFF)


def _lease_free(now: datetime):
    return or_(OutboxMessage.leased_until.is_(None), OutboxMessage.leased_until < now)


def _flag_unconfigured(session: Session, settings: NotificationSettings) -> list[Channel]:
    """Say on each waiting message why its channel cannot send; returns the channels that can."""
    ready = []
    for channel in Channel:
        reason = missing_settings(settings, channel)
        if reason is None:
            ready.append(channel)
            continue
        session.execute(
            update(OutboxMessage).where(
                OutboxMessage.channel == channel, OutboxMessage.status == MessageStatus.PENDING,
                or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != reason),
            ).values(last_error=reason)
        )
    return ready


def claim_due(session: Session, settings: NotificationSettings, now: datetime,
              limit: int = BATCH_SIZE) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to this deliverer and commit the claim."""
    ready = _flag_unconfigured(session, settings)
    due = session.scalars(
        select(OutboxMessage.id).where(
            OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now,
            OutboxMessage.channel.in_(ready), _lease_free(now),
        ).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    ).all()
    claimed = [
        message_id for message_id in due
        if session.execute(
            update(OutboxMessage).where(OutboxMessage.id == message_id, OutboxMessage.status == MessageStatus.PENDING,
                                        _lease_free(now))
            .values(leased_until=now + CLAIM_LEASE).execution_options(synchronize_session=False)
        ).rowcount == 1
    ]
    session.commit()
    return list(session.scalars(
        select(OutboxMessage).where(OutboxMessage.id.in_(claimed)).order_by(OutboxMessage.id)
        .execution_options(populate_existing=True)
    ))


def deliver_due(session: Session, settings: NotificationSettings, now: datetime | None = None,
                limit: int = BATCH_SIZE) -> Counter:
    """Claim, send and settle one batch; returns how many were sent, retried and given up (dead)."""
    now = now or utcnow()
    counts: Counter = Counter()
    for message in claim_due(session, settings, now, limit):
        try:
            send(message, settings)
        except Exception as failure:  # noqa: BLE001 - any failure is a try, so a message that can never go ends dead
            reason = str(failure) if isinstance(failure, DeliveryFailed) else f"{type(failure).__name__}: {failure}"
            counts[_settle_failure(session, settings, message, reason, now)] += 1
        else:
            message.status, message.sent_at, message.last_error = MessageStatus.SENT, now, None
            message.attempts += 1
            message.leased_until = None
            counts["sent"] += 1
        if message.status != MessageStatus.PENDING:
            forget_link(message)
        session.commit()
    return counts


LINK_FORGOTTEN = "[liên kết đã gửi, không lưu]"


def forget_link(message: OutboxMessage) -> None:
    """Once a message is settled, drop the owner link it carried: only link hashes may stay in the database."""
    link = (message.payload or {}).get("link")
    if link:
        message.body = message.body.replace(link, LINK_FORGOTTEN)
        message.payload = {key: value for key, value in message.payload.items() if key != "link"}


def _settle_failure(session: Session, settings: NotificationSettings, message: OutboxMessage, reason: str,
                    now: datetime) -> str:
    message.attempts += 1
    message.last_error = reason[:MAX_ERROR_LENGTH]
    message.leased_until = None
    if message.attempts < settings.max_attempts:
        message.next_attempt_at = now + backoff(settings, message.attempts)
        return "retried"
    message.status = MessageStatus.DEAD
    record(session, SYSTEM, "notification.dead", "outbox_message", message.id,
           from_state=MessageStatus.PENDING.value, to_state=MessageStatus.DEAD.value, note=message.last_error,
           details={"kind": message.kind, "channel": message.channel.value, "attempts": message.attempts,
                    "idempotency_key": message.idempotency_key, "assignment_id": message.assignment_id})
    return "dead"


def send(message: OutboxMessage, settings: NotificationSettings) -> None:
    """Hand one message to its channel; raises DeliveryFailed unless it was accepted."""
    if message.channel == Channel.WEBHOOK:
        _post_webhook(message, settings)
    else:
        _send_email(message, settings)


def webhook_body(message: OutboxMessage) -> bytes:
    """The exact bytes the gateway receives, and over which the signature is computed."""
    return json.dumps({
        "idempotency_key": message.idempotency_key, "kind": message.kind, "to": message.recipient,
        "text": message.body, "data": message.payload, "created_at": message.created_at.isoformat(),
    }, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """The X-Signature header: HMAC-SHA256 of the body with the shared secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _post_webhook(message: OutboxMessage, settings: NotificationSettings) -> None:
    body = webhook_body(message)
    headers = {"Content-Type": "application/json; charset=utf-8", "Idempotency-Key": message.idempotency_key,
               "X-Signature": signature(settings.webhook_secret, body)}
    try:
        response = requests.post(settings.webhook_url, data=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise DeliveryFailed(f"webhook: {type(error).__name__}: {error}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}: {response.text[:200]}")


def _send_email(message: OutboxMessage, settings: NotificationSettings) -> None:
    email = EmailMessage()
    email["From"] = settings.email_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    # The same Message-ID on every try lets a mail system recognise a repeat.
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
    email["Message-ID"] = f"<{digest}@{settings.email_from.rpartition('@')[2] or 'camera-registry'}>"
    email["Idempotency-Key"] = message.idempotency_key
    email.set_content(message.body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(email)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"smtp: {type(error).__name__}: {error}") from None
