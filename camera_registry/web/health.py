"""Operations endpoints: /healthz (the process answers), /readyz (this host can serve), /metrics, and the
per-request hooks: a request id, one log line per request (camera_registry/logs.py) and its count in /metrics.

All three are reads (no unit of work here ever writes) and say nothing about people: no names, no phone
numbers, no links. /readyz answers 200 or 503 with each check and its reason, for nginx, a load
balancer or systemd; /metrics answers only the monitoring addresses or the metrics token
(docs/operations.md, "Monitoring").
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from prometheus_client.core import GaugeMetricFamily

from .. import logs, metrics, migrate
from ..http.units import get_session
from ..jobs.scheduler import LEASE_NAME
from ..models import Channel
from ..models.base import utcnow
from ..services import readiness
from ..services.delivery import missing_settings
from ..services.notifications import NotificationSettings

log = logging.getLogger("camera_registry.health")
request_log = logging.getLogger("camera_registry.requests")
blueprint = Blueprint("health", __name__)


@blueprint.get("/healthz")
def healthz():
    """The process is up and answers; nothing else is checked (that is /readyz)."""
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response


def configured_channels(config) -> set[Channel]:
    """The channels whose gateway is set, by the deliverer's own rule: the others keep their messages waiting on
    purpose."""
    settings = NotificationSettings.from_config(config)
    return {channel for channel in Channel if missing_settings(settings, channel) is None}


@blueprint.get("/readyz")
def readyz():
    config = current_app.config
    checks = readiness.readiness(
        get_session(),
        now=utcnow(),
        heads=migrate.head_revisions(),
        known=migrate.is_known_revision,
        lease_name=LEASE_NAME,
        outbox_max_age=timedelta(seconds=config["READYZ_OUTBOX_MAX_AGE_SECONDS"]),
        configured_channels=configured_channels(config),
    )
    ready = readiness.is_ready(checks)
    response = jsonify(
        {
            "status": "ready" if ready else "unready",
            "checks": {check.name: {"ok": check.ok, "reason": check.reason} for check in checks},
        }
    )
    response.status_code = 200 if ready else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/metrics")
def metrics_view():
    config = current_app.config
    if not metrics.may_read(
        request.remote_addr,
        request.headers.get("Authorization"),
        config["METRICS_ALLOWED_ADDRESSES"],
        config["METRICS_TOKEN"],
    ):
        return Response("forbidden\n", status=403, mimetype="text/plain")
    try:
        families = list(metrics.database_families(get_session(), utcnow(), LEASE_NAME))
        up = 1
    except Exception:  # noqa: BLE001 - the process's own counts still answer; the gauge says the database did not
        log.exception("/metrics could not read the database")
        families, up = [], 0
    families.append(
        GaugeMetricFamily(f"{metrics.PREFIX}_database_up", "Whether /metrics could read the database", value=up)
    )
    body, content_type = metrics.render(families)
    return Response(body, status=200, headers={"Content-Type": content_type, "Cache-Control": "no-store"})


def route_of() -> str:
    """The URL rule that answered (`/o/<token>`: never the token itself), or <unmatched>."""
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def logged_path() -> str:
    """The path, with an owner link's token replaced: the link is the owner's key."""
    return logs.redact(request.path)


def _begin_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = logs.request_id_from(request.headers.get(logs.REQUEST_ID_HEADER))


def _finish_request(response: Response) -> Response:
    """Count the request, log its one line, and send its id back."""
    started = g.get("request_started")
    if started is None:
        return response
    seconds = time.perf_counter() - started
    route = route_of()
    metrics.count_request(request.method, route, response.status_code, seconds, request.content_length or 0)
    response.headers[logs.REQUEST_ID_HEADER] = g.request_id
    actor = g.get("actor")
    fields = {
        "request_id": g.request_id,
        "method": request.method,
        "route": route,
        "path": logged_path(),
        "status": response.status_code,
        "ms": round(seconds * 1000, 1),
        "bytes_in": request.content_length or 0,
        "bytes_out": response.content_length,
    }
    if request.args:
        fields["query_keys"] = ",".join(sorted(request.args))  # names only: values may be personal data
    if actor is not None and getattr(actor, "user_id", None):
        fields["user_id"] = actor.user_id
    request_log.log(
        logging.WARNING if response.status_code >= 500 else logging.INFO, "request", extra={"fields": fields}
    )
    return response


def init_app(app: Flask) -> None:
    logs.configure(app.config.get("LOG_FORMAT", logs.TEXT), app.config.get("LOG_LEVEL", "INFO"))
    app.register_blueprint(blueprint)
    # First, so the clock and the request id cover every other hook.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin_request)
    app.after_request(_finish_request)
