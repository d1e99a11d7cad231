"""The one local zone: times are stored in UTC and shown in Asia/Ho_Chi_Minh (UTC+7, no daylight saving).

Kept free of any framework so services (messages to owners) and web pages
show times the same way.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

LOCAL_ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
LOCAL_OFFSET = "+07:00"


def local_time(moment: datetime | None, pattern: str = "%d/%m/%Y %H:%M") -> str:
    return moment.astimezone(LOCAL_ZONE).strftime(pattern) if moment else ""
