"""Single-runner leases: several scheduler processes may run, only the lease holder works.

The lease is one row taken or renewed with a conditional UPDATE (the holder
renews its own; anyone may take an expired one), so it works the same on
PostgreSQL and on SQLite, where SELECT ... FOR UPDATE does nothing. The row
is inserted on first use; of two first runners racing, the primary key lets
only one in. The caller's write unit commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..models import SchedulerLease


def hold_lease(session: Session, name: str, holder: str, ttl: timedelta, now: datetime) -> bool:
    """Take or renew lease `name` for `holder` until now + ttl; False while someone else holds it."""
    taken = session.execute(
        update(SchedulerLease)
        .where(
            SchedulerLease.name == name,
            or_(SchedulerLease.holder == holder, SchedulerLease.expires_at < now),
        )
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    ).rowcount
    if taken:
        return True
    if session.scalar(select(exists().where(SchedulerLease.name == name))):
        return False
    try:
        with session.begin_nested():
            session.add(SchedulerLease(name=name, holder=holder, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release_lease(session: Session, name: str, holder: str, now: datetime) -> None:
    """Give the lease up at shutdown so another runner takes over at once instead of after the ttl."""
    session.execute(
        update(SchedulerLease)
        .where(SchedulerLease.name == name, SchedulerLease.holder == holder)
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
