"""For the ZNS and SMS outbox tests: the simulators' settings for the app, and requests routed by day as the
app routes them (the session carries the installation's channels)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from notify_support import routed_request
from sqlalchemy.orm import Session

from camera_registry.services.channels.templates import ZNS_KINDS
from camera_registry.services.notifications import CHANNEL_PLAN, NotificationSettings
from camera_registry.timezones import LOCAL_ZONE

PHONE = "84912345678"  # the world's owners' 0912345678, normalised
#: Exactly the ZNS templates the start-up check demands: the escalation goes to the police by SMS, never ZNS.
TEMPLATE_IDS = {f"CHANNEL_ZNS_TEMPLATE_{kind.name}": f"tpl-{kind.name.lower()}" for kind in ZNS_KINDS}


def zns_config(simulator) -> dict:
    return {
        "CHANNEL_ZNS_APP_ID": simulator.app_id,
        "CHANNEL_ZNS_SECRET_KEY": simulator.secret_key,
        "CHANNEL_ZNS_OA_SECRET_KEY": simulator.oa_secret_key,
        "CHANNEL_ZNS_ACCESS_TOKEN": simulator.access_token,
        "CHANNEL_ZNS_REFRESH_TOKEN": simulator.refresh_token,
        "CHANNEL_ZNS_BASE_URL": simulator.url,
        "CHANNEL_ZNS_OAUTH_URL": simulator.url,
        **TEMPLATE_IDS,
    }


def esms_config(simulator) -> dict:
    return {
        "CHANNEL_ESMS_API_KEY": simulator.api_key,
        "CHANNEL_ESMS_SECRET_KEY": simulator.secret_key,
        "CHANNEL_ESMS_BRANDNAME": simulator.brandname,
        "CHANNEL_ESMS_BASE_URL": simulator.url,
        "CHANNEL_ESMS_CALLBACK_SECRET": "test-callback-secret",
    }


def channel_settings(app, **config) -> NotificationSettings:
    return NotificationSettings.from_config({**app.config, "CHANNEL_TIMEOUT_SECONDS": "5", **config})


def at_local(day_offset: int, hour: int) -> datetime:
    today = datetime.now(LOCAL_ZONE).date() + timedelta(days=day_offset)
    return datetime(today.year, today.month, today.day, hour, tzinfo=LOCAL_ZONE).astimezone(UTC)


#: When the tests route and deliver unless they say otherwise: by day in Vietnam, out of the quiet hours
#: whatever the hour of the run.
DAY = at_local(-1, 10)


def route(session: Session, settings: NotificationSettings, **fields):
    """A request routed as the app routes it: the session carries the installation's channels. Routed by day
    (DAY) unless `now` is given."""
    fields.setdefault("now", DAY)
    session.info[CHANNEL_PLAN] = settings.channel_plan
    try:
        return routed_request(session, **fields)
    finally:
        session.info.pop(CHANNEL_PLAN)
