"""Readiness: can this host serve? Checks for load balancers and systemd, read-only, without personal data.

Each check answers ok and a short reason an operator can act on:
- database: a query answers;
- migrations: the database is at this release's head. A database at a revision
  this release does not know was migrated by a newer release: during a rolling
  upgrade the old hosts keep serving it (upgrades only ship backward-compatible
  migrations, docs/operations.md), so that is ready, with the reason said; a
  database behind the head is not (run `camera-registry db upgrade`);
- scheduler: some scheduler holds the jobs lease within its ttl (a scheduler
  renews it every 15 s; one that stopped gave it up, one that died lets it run out);
- outbox: no message of a configured channel has been due for longer than the
  allowed age (the deliverer sends due messages every few seconds; a channel
  with no gateway configured keeps its messages waiting by design);
- channels: the providers' configuration errors holding messages back
  (services/channel_problems.py), named; every host shares them, so they do not
  make this one unready.

Every query here is a read: /readyz runs in a read unit and must never write.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from ..models import Channel, MessageStatus, OutboxMessage, SchedulerLease
from .channel_problems import channel_problems, describe

log = logging.getLogger("camera_registry.readiness")


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    reason: str


def check_database(session: Session) -> Check:
    session.execute(text("SELECT 1"))
    return Check("database", True, "reachable")


def database_revisions(session: Session) -> set[str]:
    """The Alembic revisions the database is at (empty: never migrated)."""
    return set(session.scalars(text("SELECT version_num FROM alembic_version")))


def check_migrations(session: Session, heads: Collection[str], known: Callable[[str], bool]) -> Check:
    current = database_revisions(session)
    if not current:
        return Check("migrations", False, "the database was never migrated: run `camera-registry db upgrade`")
    if current == set(heads):
        return Check("migrations", True, f"at head {', '.join(sorted(current))}")
    unknown = sorted(revision for revision in current if not known(revision))
    if unknown:
        return Check(
            "migrations",
            True,
            f"at {', '.join(unknown)}, newer than this release's head {', '.join(sorted(heads))}: upgrade this host",
        )
    return Check(
        "migrations",
        False,
        f"at {', '.join(sorted(current))}, behind head {', '.join(sorted(heads))}: run `camera-registry db upgrade`",
    )


def check_scheduler(session: Session, lease_name: str, now: datetime) -> Check:
    expires_at = session.scalar(select(SchedulerLease.expires_at).where(SchedulerLease.name == lease_name))
    if expires_at is None:
        return Check("scheduler", False, "no scheduler has ever held the jobs lease: start `camera-registry scheduler`")
    if expires_at <= now:
        return Check(
            "scheduler", False, f"the jobs lease ran out {_seconds(now - expires_at)} ago: no scheduler is running"
        )
    return Check("scheduler", True, f"the jobs lease is held for another {_seconds(expires_at - now)}")


def oldest_due(session: Session, now: datetime) -> dict[Channel, tuple[int, datetime]]:
    """channel -> (messages due now, when the longest-due one fell due), pending messages only."""
    rows = session.execute(
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .group_by(OutboxMessage.channel)
    ).all()
    return {channel: (count, since) for channel, count, since in rows}


def check_outbox(session: Session, now: datetime, max_age: timedelta, configured: Collection[Channel]) -> Check:
    due = oldest_due(session, now)
    stuck, parts = False, []
    for channel in Channel:
        count, since = due.get(channel, (0, None))
        if channel not in configured:
            parts.append(f"{channel.value}: no gateway configured ({count} waiting)")
        elif count == 0:
            parts.append(f"{channel.value}: nothing due")
        else:
            age = now - since
            stuck = stuck or age > max_age
            parts.append(
                f"{channel.value}: {count} due, the oldest for {_seconds(age)}"
                + (f" (more than {_seconds(max_age)}: is the scheduler delivering?)" if age > max_age else "")
            )
    return Check("outbox", not stuck, "; ".join(parts))


def check_channels(session: Session, now: datetime) -> Check:
    return Check("channels", True, describe(channel_problems(session, now)))


def readiness(
    session: Session,
    *,
    now: datetime,
    heads: Collection[str],
    known: Callable[[str], bool],
    lease_name: str,
    outbox_max_age: timedelta,
    configured_channels: Collection[Channel],
) -> list[Check]:
    """Every check, in order; a check that fails with an error is not ready, and the ones after it still run."""
    checks: list[tuple[str, Callable[[], Check]]] = [
        ("database", lambda: check_database(session)),
        ("migrations", lambda: check_migrations(session, heads, known)),
        ("scheduler", lambda: check_scheduler(session, lease_name, now)),
        ("outbox", lambda: check_outbox(session, now, outbox_max_age, configured_channels)),
        ("channels", lambda: check_channels(session, now)),
    ]
    results = []
    for name, run in checks:
        try:
            results.append(run())
        except Exception as error:  # noqa: BLE001 - a check that cannot run is an answer, not a 500
            log.warning("readiness check %s failed: %s", name, error)
            session.rollback()  # PostgreSQL refuses further statements in a failed transaction
            results.append(Check(name, False, f"could not check: {type(error).__name__}"))
    return results


def is_ready(checks: Iterable[Check]) -> bool:
    return all(check.ok for check in checks)


def _seconds(delta: timedelta) -> str:
    return f"{max(0, round(delta.total_seconds()))} s"
