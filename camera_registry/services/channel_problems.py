"""Channel problems an admin must fix: the providers' configuration errors (eSMS 146, ZNS template or Official
Account errors, wrong keys, no balance, a refresh token Zalo refuses), as they stand now.

A configuration error ends its message dead at once (services/delivery/), audited as
`notification.config_error` with its channel, provider, kind and the provider's code. A problem is one
(channel, provider, kind, code): since its first such message after the last message of that channel and
kind that was sent, with how many messages it has held back since and the provider's latest words. Once a
message of that channel and kind is sent again, an admin fixed it and it is no longer current. Errors older
than LOOKBACK are not shown. Read-only, without personal data (a provider's words name no recipient).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..models import AuditEvent, OutboxMessage
from .access import Actor
from .messages import restored

CONFIG_ERROR = "notification.config_error"
LOOKBACK = timedelta(days=30)


@dataclass(frozen=True)
class ChannelProblem:
    channel: str  # zns, sms
    provider: str | None  # zns, esms, speedsms
    kind: str  # the message kind, which names its template
    code: str | None  # the provider's error code, when it gave one
    detail: str  # what the provider's answer means, in words (a Message when we worded it)
    since: datetime
    last_seen: datetime
    held_back: int


def current_problems(session: Session, actor: Actor, now: datetime) -> list[ChannelProblem]:
    """The channel problems for an admin's eyes; PermissionDenied for anyone else."""
    actor.require_admin()
    return channel_problems(session, now)


def channel_problems(session: Session, now: datetime) -> list[ChannelProblem]:
    """The current problems, the longest-standing first."""
    last_sent = {
        (channel.value, kind): sent_at
        for channel, kind, sent_at in session.execute(
            select(OutboxMessage.channel, OutboxMessage.kind, func.max(OutboxMessage.sent_at))
            .where(OutboxMessage.sent_at.is_not(None))
            .group_by(OutboxMessage.channel, OutboxMessage.kind)
        )
    }
    errors = session.execute(
        select(AuditEvent.occurred_at, AuditEvent.note, AuditEvent.details)
        .where(AuditEvent.action == CONFIG_ERROR, AuditEvent.occurred_at >= now - LOOKBACK)
        .order_by(AuditEvent.occurred_at, AuditEvent.id)
    )
    grouped: dict[tuple, list[tuple[datetime, str]]] = {}
    for occurred_at, note, details in errors:
        details = details or {}
        channel, kind = details.get("channel"), details.get("kind")
        fixed_at = last_sent.get((channel, kind))
        if fixed_at is not None and fixed_at >= occurred_at:
            continue
        key = (channel, details.get("provider"), kind, details.get("code"))
        grouped.setdefault(key, []).append((occurred_at, restored(details.get("said")) or note or ""))
    problems = [
        ChannelProblem(channel, provider, kind, code, seen[-1][1], seen[0][0], seen[-1][0], len(seen))
        for (channel, provider, kind, code), seen in grouped.items()
    ]
    return sorted(problems, key=lambda problem: problem.since)


def describe(problems: list[ChannelProblem]) -> str:
    """The problems in one line, as /readyz's channels check says them."""
    if not problems:
        return "no provider configuration error"
    return "; ".join(
        f"{problem.channel} ({problem.provider or 'unknown provider'}) {problem.kind}: {problem.detail}, "
        f"since {problem.since.isoformat(timespec='seconds')}, {problem.held_back} held back"
        for problem in problems
    )
