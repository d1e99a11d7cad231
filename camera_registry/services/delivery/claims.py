"""Claiming due messages, renewing and releasing the claims, and recording each send's outcome (see the package)."""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ...db import is_retryable, write_unit
from ...models import Channel, MessageStatus, OutboxMessage, message_transition
from ...models.base import utcnow
from ..channels.base import Outcome, OutcomeKind
from ..channels.zns import not_on_zalo
from ..messages import stored
from ..notifications import (
    NotificationSettings,
    fail_message,
    mint_owner_link,
    move_message,
    with_owner_link,
)
from .sending import DeliveryFailed, missing_settings, provider_name, send
from .zns_tokens import DatabaseTokenStore

log = logging.getLogger("camera_registry.delivery")

BATCH_SIZE = 20
#: How long a claim lasts unrenewed by default (NOTIFY_CLAIM_LEASE_SECONDS): a dead deliverer's messages go out
#: again this long after its last renewal.
CLAIM_LEASE = timedelta(seconds=NotificationSettings.claim_lease_seconds)
#: The longest one send may take (SMTP: several steps, each up to SEND_TIMEOUT_SECONDS); claims are renewed below it
#: (below two thirds of a shorter lease).
SEND_MARGIN = timedelta(seconds=60)
RECORD_RETRY_PAUSE_SECONDS = 1.0
MAX_BACKOFF = timedelta(hours=1)
MAX_ERROR_LENGTH = 1000


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
            update(OutboxMessage)
            .where(
                OutboxMessage.channel == channel,
                OutboxMessage.status == MessageStatus.PENDING,
                or_(OutboxMessage.last_error.is_(None), OutboxMessage.last_error != reason),
            )
            .values(last_error=reason)
        )
    return ready


def new_holder() -> str:
    """A name for one deliverer run: host, process and a random part, so no two runs share their claims."""
    return f"deliverer:{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"[-100:]


def claim_due(
    session: Session, settings: NotificationSettings, now: datetime, holder: str, limit: int = BATCH_SIZE
) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to `holder`, in the caller's write unit; returns them detached, to be sent.

    Each message that carries an owner link gets a new one here, its hash
    stored in this unit, so no link is sent that the database cannot resolve;
    the returned (detached) messages hold the link, the stored rows never do.
    """
    ready = _flag_unconfigured(session, settings)
    due = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.status == MessageStatus.PENDING,
            OutboxMessage.next_attempt_at <= now,
            OutboxMessage.channel.in_(ready),
            _lease_free(now),
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    # The conditions are checked again by the UPDATE, so of two deliverers racing only one gets each message.
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id.in_(due.scalar_subquery()), OutboxMessage.status == MessageStatus.PENDING, _lease_free(now)
        )
        .values(leased_until=now + settings.claim_lease, lease_holder=holder)
        .execution_options(synchronize_session=False)
    )
    claimed = list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.lease_holder == holder, OutboxMessage.status == MessageStatus.PENDING)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .execution_options(populate_existing=True)
        )
    )
    tokens = {message.id: mint_owner_link(session, message) for message in claimed}
    session.flush()
    for message in claimed:
        session.expunge(message)
        if tokens[message.id]:
            with_owner_link(message, tokens[message.id])  # detached: rendered in memory, never written back
    return claimed


def _still_held(holder: str, message_ids: list[int]):
    """Those of `message_ids` that `holder` has claimed and not yet settled."""
    return and_(
        OutboxMessage.id.in_(message_ids),
        OutboxMessage.lease_holder == holder,
        OutboxMessage.status == MessageStatus.PENDING,
    )


def renew_claims(session: Session, holder: str, message_ids: list[int], until: datetime) -> set[int]:
    """Extend `holder`'s claims on `message_ids` to `until`; returns the ids it still holds."""
    session.execute(
        update(OutboxMessage)
        .where(_still_held(holder, message_ids))
        .values(leased_until=until)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(select(OutboxMessage.id).where(_still_held(holder, message_ids))))


def release_claims(session: Session, holder: str, message_ids: list[int]) -> None:
    """Give back `holder`'s claims on messages it did not send, so the next run takes them at once."""
    session.execute(
        update(OutboxMessage)
        .where(_still_held(holder, message_ids))
        .values(leased_until=None, lease_holder=None)
        .execution_options(synchronize_session=False)
    )


def deliver_due(
    sessions: sessionmaker, settings: NotificationSettings, now: datetime | None = None, limit: int = BATCH_SIZE
) -> Counter:
    """Claim, send and record one batch; returns the count of each outcome.

    The outcomes: sent, retried, dead (given up), config_error (dead at
    once: an admin must fix the provider's settings), refused (failed on this
    channel; fell_back when the next channel got the message), superseded
    (another deliverer took the claim or recorded the send first) and
    unrecorded (the record failed until the claim ran out). `now` is the moment the run is
    for (outcomes are stamped with it); claims are kept against the time that
    has really passed since.
    """
    now = now or utcnow()
    started = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - started)

    holder, lease = new_holder(), settings.claim_lease
    margin = SEND_MARGIN if lease > SEND_MARGIN else lease * 2 / 3
    unsent = write_unit(sessions, lambda session: claim_due(session, settings, now, holder, limit))
    zns_tokens = DatabaseTokenStore(sessions, settings.zns, holder) if settings.zns else None
    leased_until = now + lease
    counts: Counter = Counter()
    try:
        while unsent:
            if leased_until - clock() < margin:
                renewal = clock() + lease
                held = write_unit(
                    sessions, lambda session: renew_claims(session, holder, [message.id for message in unsent], renewal)
                )
                unsent, leased_until = [message for message in unsent if message.id in held], renewal
                continue
            message = unsent.pop(0)
            try:
                answer = send(message, settings, zns_tokens)
            except Exception as failure:  # noqa: BLE001 - any failure is a try: a message that can never go ends dead
                reason = str(failure) if isinstance(failure, DeliveryFailed) else f"{type(failure).__name__}: {failure}"
                answer = Outcome(OutcomeKind.TRANSIENT, detail=reason)
            counts[
                _record(
                    sessions,
                    message,
                    leased_until,
                    clock,
                    lambda session: _settle(session, settings, message.id, holder, answer, now),
                )
            ] += 1
    finally:
        if unsent:
            _release_quietly(sessions, holder, unsent)
    return counts


def _record(
    sessions: sessionmaker,
    message: OutboxMessage,
    leased_until: datetime,
    clock: Callable[[], datetime],
    settle: Callable[[Session], str | None],
) -> str:
    """Commit one outcome, trying again on a lock until the claim runs out; the outcome's name, or 'unrecorded'."""
    while True:
        try:
            return write_unit(sessions, settle) or "superseded"
        except DBAPIError as error:
            if not (isinstance(error, OperationalError) or is_retryable(error)):
                raise
            if clock() >= leased_until:
                log.error(
                    "outbox message %s (%s): outcome not recorded before its claim ran out (%s); "
                    "it will be tried again with the same key",
                    message.id,
                    message.idempotency_key,
                    error.orig,
                )
                return "unrecorded"
            log.warning("outbox message %s: recording its outcome failed (%s); trying again", message.id, error.orig)
        time.sleep(RECORD_RETRY_PAUSE_SECONDS)


def _release_quietly(sessions: sessionmaker, holder: str, unsent: list[OutboxMessage]) -> None:
    """Release what a stopped run did not send; if even that fails, the claims run out by themselves."""
    try:
        write_unit(sessions, lambda session: release_claims(session, holder, [message.id for message in unsent]))
    except Exception:  # noqa: BLE001 - the run is already failing; its own error is the one to report
        log.exception(
            "could not release %d claimed outbox messages; they are free again once their claim runs out", len(unsent)
        )


def _settle(
    session: Session, settings: NotificationSettings, message_id: int, holder: str, answer: Outcome, now: datetime
) -> str | None:
    """Record what the provider answered to one send."""
    if answer.sent:
        return _settle_sent(session, settings, message_id, answer, now)
    if answer.kind == OutcomeKind.TRANSIENT:
        return _settle_failure(session, settings, message_id, holder, answer.detail, now)
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message.status != MessageStatus.PENDING or message.lease_holder != holder:
        return None
    message.attempts += 1
    message.last_error = answer.detail[:MAX_ERROR_LENGTH]
    message.leased_until = message.lease_holder = None
    if answer.kind == OutcomeKind.CONFIG_ERROR:
        # What the channel problems page groups by (services/channel_problems.py).
        provider = provider_name(message.channel, settings)
        code = None if answer.code is None else str(answer.code)
        # The provider's words kept as a msgid, so the channel problems page says them in each admin's language.
        _give_up(
            session, message, "notification.config_error", provider=provider, code=code, said=stored(answer.detail)
        )
        return "config_error"
    off_zalo = message.channel == Channel.ZNS and not_on_zalo(answer)
    fallback = fail_message(session, message, "refuse", answer.detail, settings.channel_plan, now, off_zalo=off_zalo)
    return "fell_back" if fallback else "refused"


def _settle_sent(
    session: Session, settings: NotificationSettings, message_id: int, answer: Outcome, now: datetime
) -> str | None:
    """Whoever holds the claim now: the message did go, so a later deliverer must not send it again."""
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message.status != MessageStatus.PENDING:
        return None
    message.status, message.sent_at, message.last_error = message_transition(message.status, "send"), now, None
    message.provider = provider_name(message.channel, settings)
    message.provider_message_id = answer.provider_message_id or message.provider_message_id
    message.receipt_detail = answer.detail or None
    message.attempts += 1
    message.leased_until = message.lease_holder = None
    return "sent"


def _settle_failure(
    session: Session, settings: NotificationSettings, message_id: int, holder: str, reason: str, now: datetime
) -> str | None:
    """A failed try counts only while `holder` still has the claim; once another deliverer took it, it is theirs."""
    message = session.get(OutboxMessage, message_id, populate_existing=True)
    if message.status != MessageStatus.PENDING or message.lease_holder != holder:
        return None
    message.attempts += 1
    message.last_error = reason[:MAX_ERROR_LENGTH]
    message.leased_until = message.lease_holder = None
    if message.attempts < settings.max_attempts:
        message.next_attempt_at = now + backoff(settings, message.attempts)
        return "retried"
    _give_up(session, message, "notification.dead")
    return "dead"


def _give_up(session: Session, message: OutboxMessage, action: str, **details) -> None:
    """Stop trying a message, audited as `action` with `details`: notification.dead after the tries ran out, or
    notification.config_error when the provider says an admin must fix its settings (not worth another try)."""
    move_message(session, message, "give_up", action, message.last_error, attempts=message.attempts, **details)
