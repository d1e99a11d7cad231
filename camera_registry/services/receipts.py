"""Delivery receipts: a provider's word that a sent message reached the phone, or did not, applied once.

A receipt finds its message by the provider's message id, or by our
idempotency key where the provider echoes it. Providers repeat callbacks
(eSMS up to five times), so applying one is idempotent: only a sent message
moves, to delivered, or to failed with the fallback on the next channel
queued in the same write unit (notifications.fail_message). A repeated
receipt, a delivery after the message failed (its fallback is already on the
way) and a receipt for a message we do not know change nothing; the last is
logged. Each applied receipt is audited.

A receipt can also overtake its send's record: the deliverer died, or is slow,
between the provider's acceptance and the record. The message is still
pending, so the receipt is `early`: nothing changes and the route answers
409, so the provider calls again (eSMS up to five times), by when the
message is recorded as sent.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import MessageStatus, OutboxMessage
from ..models.base import utcnow
from .channels.base import Receipt, ReceiptStatus
from .notifications import MAX_DETAIL_LENGTH, NotificationSettings, fail_message, move_message

log = logging.getLogger("camera_registry.receipts")
#: A receipt for a message whose send is not recorded yet: the provider is to call again.
EARLY = "early"


def find_message(session: Session, receipt: Receipt) -> OutboxMessage | None:
    """The message a receipt is about, locked for the change (PostgreSQL; SQLite has one writer anyway)."""
    conditions = []
    if receipt.provider_message_id:
        conditions.append(
            (OutboxMessage.provider == receipt.provider)
            & (OutboxMessage.provider_message_id == receipt.provider_message_id)
        )
    if receipt.idempotency_key:
        conditions.append(OutboxMessage.idempotency_key == receipt.idempotency_key)
    for condition in conditions:
        message = session.scalar(select(OutboxMessage).where(condition).with_for_update())
        if message is not None:
            return message
    return None


def apply_receipt(
    session: Session, settings: NotificationSettings, receipt: Receipt, now: datetime | None = None
) -> str:
    """Apply one receipt in the caller's write unit: delivered, failed, repeated, early, ignored or unknown."""
    message = find_message(session, receipt)
    if message is None:
        log.warning(
            "a %s receipt for no message we know (provider id %s, key %s): ignored",
            receipt.provider,
            receipt.provider_message_id,
            receipt.idempotency_key,
        )
        return "unknown"
    wanted = MessageStatus.DELIVERED if receipt.status == ReceiptStatus.DELIVERED else MessageStatus.FAILED
    if message.status == wanted:
        return "repeated"
    if message.status == MessageStatus.PENDING:
        return EARLY  # its send is not recorded yet
    if message.status != MessageStatus.SENT:
        return "ignored"  # a delivery after the message failed: its fallback is already on the way
    detail = receipt.detail or f"{receipt.provider} reports it {receipt.status.value}"
    if receipt.status == ReceiptStatus.FAILED:
        fail_message(session, message, "fail", detail, settings.channel_plan, now or utcnow())
        return "failed"
    message.delivered_at, message.receipt_detail = receipt.at, detail[:MAX_DETAIL_LENGTH]
    move_message(session, message, "deliver", "notification.delivered", message.receipt_detail)
    return "delivered"
