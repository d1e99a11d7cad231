"""Operations endpoints: /healthz (the process answers), /readyz (this host can serve).

Both are reads (no unit of work here ever writes) and say nothing about people: no names, no phone
numbers, no links. /readyz answers 200 or 503 with each check and its reason, for nginx, a load
balancer or systemd (docs/operations.md, "Monitoring").
"""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Flask, current_app, jsonify

from .. import migrate
from ..jobs.scheduler import LEASE_NAME
from ..models import Channel
from ..models.base import utcnow
from ..services import readiness
from . import get_session

blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """The process is up and answers; nothing else is checked (that is /readyz)."""
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


def configured_channels(config) -> set[Channel]:
    """The channels whose gateway is set: the others keep their messages waiting on purpose."""
    channels = set()
    if config.get("NOTIFY_WEBHOOK_URL") and config.get("NOTIFY_WEBHOOK_SECRET"):
        channels.add(Channel.WEBHOOK)
    if config.get("SMTP_HOST"):
        channels.add(Channel.EMAIL)
    return channels


@blueprint.get("/readyz")
def readyz():
    config = current_app.config
    checks = readiness.readiness(
        get_session(), now=utcnow(), heads=migrate.head_revisions(), known=migrate.is_known_revision,
        lease_name=LEASE_NAME, outbox_max_age=timedelta(seconds=config["READYZ_OUTBOX_MAX_AGE_SECONDS"]),
        configured_channels=configured_channels(config),
    )
    ready = readiness.is_ready(checks)
    response = jsonify({"status": "ready" if ready else "unready",
                        "checks": {check.name: {"ok": check.ok, "reason": check.reason} for check in checks}})
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(blueprint)
