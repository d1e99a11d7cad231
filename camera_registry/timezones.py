"""The one local zone: times are stored in UTC and shown in Asia/Ho_Chi_Minh (UTC+7, no daylight saving).

Kept free of any framework so services (messages to owners) and web pages
show times the same way.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LOCAL_OFFSET = "+07:00"


def local_today(now: datetime | None = None) -> date:
    """The calendar day in Vietnam at `now` (an aware moment; the present when None), whatever the server's zone.

    Units' validity, figures' periods and commitments' days are Vietnamese days: at 23:30 UTC it is already
    tomorrow in Hà Nội.
    """
    return (now.astimezone(LOCAL_ZONE) if now else datetime.now(LOCAL_ZONE)).date()


def local_midnight(day: date) -> datetime:
    """The moment a Vietnamese calendar day begins (aware, in LOCAL_ZONE)."""
    return datetime.combine(day, time(0), LOCAL_ZONE)


def local_time(moment: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
    return moment.astimezone(LOCAL_ZONE).strftime(pattern) if moment else ""
