"""When a message may go: no ZNS or SMS to a household between 22:00 and 07:00 Vietnam time unless it is urgent.

- Reminders and renewal invitations wait for 07:00: they can, and a phone
  buzzing at night for them costs the programme goodwill. A reminder of an
  urgent request waits too; the escalation to the police is what covers the
  night.
- A new request whose preservation deadline is within 24 hours goes at once,
  as a transactional message: by morning the recorder may have overwritten
  the footage.
- A new request with a later deadline waits for 07:00: it loses a few hours
  of at least a day.
- An escalation goes at once: it goes to the commune police's duty phone,
  which is staffed at night, and says footage may be lost.
ZNS refuses some messages at night itself (error -133, zns.py); these hours
keep us inside that rule.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from ...timezones import LOCAL_ZONE, local_today
from .templates import MessageKind

QUIET_FROM = time(22, 0)
QUIET_UNTIL = time(7, 0)
URGENT_WITHIN = timedelta(hours=24)


def quiet(now: datetime) -> bool:
    """Whether `now` (aware) falls in the quiet hours, in Vietnam time."""
    local = now.astimezone(LOCAL_ZONE).time()
    return local >= QUIET_FROM or local < QUIET_UNTIL


def earliest_send(now: datetime, kind: MessageKind, deadline: datetime | None = None) -> datetime:
    """The first moment from `now` (aware) that a message of `kind` may go; `deadline` is its request's
    preservation deadline, for a new request."""
    if now.tzinfo is None:
        raise ValueError("earliest_send needs an aware moment")
    urgent = kind == MessageKind.ESCALATION or (
        kind == MessageKind.REQUEST and deadline is not None and deadline - now <= URGENT_WITHIN
    )
    if urgent or not quiet(now):
        return now
    day = local_today(now)
    if now.astimezone(LOCAL_ZONE).time() >= QUIET_FROM:
        day += timedelta(days=1)
    return datetime.combine(day, QUIET_UNTIL, LOCAL_ZONE).astimezone(now.tzinfo)
