"""Times are stored in UTC and shown in Asia/Ho_Chi_Minh (UTC+7, no daylight saving)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask

from ..timezones import local_time


def time_left(moment: datetime | None, now: datetime | None = None) -> str:
    """'còn 2 ngày 3 giờ' / 'quá hạn 5 giờ': what the countdown shows before its script runs."""
    if moment is None:
        return ""
    seconds = int((moment - (now or datetime.now(UTC))).total_seconds())
    days, rest = divmod(abs(seconds), 86_400)
    hours, rest = divmod(rest, 3_600)
    text = f"{days} ngày {hours} giờ" if days else f"{hours} giờ {rest // 60} phút"
    return f"còn {text}" if seconds >= 0 else f"quá hạn {text}"


def init_app(app: Flask) -> None:
    app.add_template_filter(local_time)
    app.add_template_filter(time_left)
    app.add_template_filter(lambda moment: local_time(moment, "%Y-%m-%dT%H:%M"), "local_input")
