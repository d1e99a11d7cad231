"""Times are stored in UTC and shown in Asia/Ho_Chi_Minh (UTC+7, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from flask_babel import gettext

from ..timezones import local_time


def time_left(moment: datetime | None, now: datetime | None = None) -> str:
    """'2 d 3 h left' / 'overdue by 5 h 0 min' ('còn 2 ngày 3 giờ' / 'quá hạn 5 giờ 0 phút'): what the countdown
    shows before its script runs."""
    if moment is None:
        return ""
    seconds = int((moment - (now or datetime.now(UTC))).total_seconds())
    days, rest = divmod(abs(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    if days:
        span = gettext("%(days)s d %(hours)s h", days=days, hours=hours)
    else:
        span = gettext("%(hours)s h %(minutes)s min", hours=hours, minutes=rest // 60)
    return gettext("%(time)s left", time=span) if seconds >= 0 else gettext("overdue by %(time)s", time=span)


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time)
    app.add_template_filter(time_left)
    app.add_template_filter(lambda moment: local_time(moment, "%Y-%m-%dT%H:%M"), "local_input")
