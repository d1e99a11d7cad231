"""Prometheus metrics (prometheus-client): what the processes count, and what the database holds at a scrape.

Counted by the process that sees it:
- requests by method, route (the URL rule, so `/o/<token>`, never a token) and status, their latency,
  and the bytes of request bodies (clip uploads among them);
- database errors by kind ("locked", "serialization_failure", "deadlock") and outcome: a write unit
  that retried, one that gave up, a request answered 503;
- scheduled job runs by outcome, their duration, and what each run reported (messages sent, retried,
  dead; reminders; backups ...).

Read from the database at each scrape (the same on every host): outbox messages by channel and
status, the due ones and the age of the oldest, failed delivery attempts, assignments by state,
clips stored and their bytes, the last backup, the scheduler lease.

Under gunicorn every worker is a process: set PROMETHEUS_MULTIPROC_DIR (the same directory for
gunicorn and the scheduler of a host) and each scrape adds up every process's counts
(docs/operations.md, "Metrics").
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from . import db
from .models import Assignment, AuditEvent, FootageClip, MessageStatus, OutboxMessage, SchedulerLease

PREFIX = "camera_registry"
MULTIPROCESS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")
if MULTIPROCESS_DIR:
    os.makedirs(MULTIPROCESS_DIR, exist_ok=True)

REQUESTS = Counter(
    f"{PREFIX}_http_requests", "HTTP requests answered, by method, route and status", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to answer a request, by method and route",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REQUEST_BODY_BYTES = Counter(
    f"{PREFIX}_http_request_body_bytes",
    "Bytes of request bodies received (uploads among them), by method and route",
    ["method", "route"],
)
DATABASE_ERRORS = Counter(
    f"{PREFIX}_database_errors",
    "Database lock and serialisation errors, by kind and outcome "
    "(retried, gave_up: a write unit; answered_503: a request)",
    ["kind", "outcome"],
)
JOB_RUNS = Counter(
    f"{PREFIX}_job_runs",
    "Scheduled job runs by outcome (ok, failed, skipped: not the lease holder)",
    ["job", "outcome"],
)
JOB_SECONDS = Histogram(
    f"{PREFIX}_job_duration_seconds",
    "Time a scheduled job run took",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800),
)
JOB_RESULTS = Counter(
    f"{PREFIX}_job_results", "What job runs reported (deliver_outbox: sent, retried, dead, ...)", ["job", "result"]
)


def count_database_error(error: DBAPIError, outcome: str) -> None:
    DATABASE_ERRORS.labels(kind=db.error_kind(error), outcome=outcome).inc()


db.RETRY_LISTENERS.append(count_database_error)


def count_request(method: str, route: str, status: int, seconds: float, body_bytes: int) -> None:
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)
    if body_bytes:
        REQUEST_BODY_BYTES.labels(method=method, route=route).inc(body_bytes)


def count_job_run(job: str, outcome: str, seconds: float | None = None, results: dict | None = None) -> None:
    JOB_RUNS.labels(job=job, outcome=outcome).inc()
    if seconds is not None:
        JOB_SECONDS.labels(job=job).observe(seconds)
    for result, count in (results or {}).items():
        if count:
            JOB_RESULTS.labels(job=job, result=str(result)).inc(count)


# --------------------------------------------------------------------------- read at each scrape


def database_families(session: Session, now: datetime, lease_name: str) -> Iterator[GaugeMetricFamily]:
    """Gauges of what the database holds now; reads only."""
    messages = GaugeMetricFamily(
        f"{PREFIX}_outbox_messages", "Outbox messages by channel and status", labels=["channel", "status"]
    )
    failed = GaugeMetricFamily(
        f"{PREFIX}_outbox_failed_attempts",
        "Delivery attempts that failed, of the messages in the outbox, by channel",
        labels=["channel"],
    )
    totals: dict[str, int] = {}
    for channel, status, count, attempts in session.execute(
        select(
            OutboxMessage.channel,
            OutboxMessage.status,
            func.count(),
            func.coalesce(func.sum(OutboxMessage.attempts), 0),
        ).group_by(OutboxMessage.channel, OutboxMessage.status)
    ):
        messages.add_metric([channel.value, status.value], count)
        # a sent message's last attempt succeeded; every other attempt failed
        totals[channel.value] = (
            totals.get(channel.value, 0) + int(attempts) - (count if status == MessageStatus.SENT else 0)
        )
    for channel, value in sorted(totals.items()):
        failed.add_metric([channel], value)
    yield messages
    yield failed

    due = GaugeMetricFamily(f"{PREFIX}_outbox_due_messages", "Pending messages due now, by channel", labels=["channel"])
    age = GaugeMetricFamily(
        f"{PREFIX}_outbox_oldest_due_age_seconds",
        "How long the longest-due pending message has been due, by channel",
        labels=["channel"],
    )
    for channel, count, since in session.execute(
        select(OutboxMessage.channel, func.count(), func.min(OutboxMessage.next_attempt_at))
        .where(OutboxMessage.status == MessageStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .group_by(OutboxMessage.channel)
    ):
        due.add_metric([channel.value], count)
        age.add_metric([channel.value], max(0.0, (now - since).total_seconds()))
    yield due
    yield age

    assignments = GaugeMetricFamily(f"{PREFIX}_assignments", "Assignments by state", labels=["status"])
    for status, count in session.execute(select(Assignment.status, func.count()).group_by(Assignment.status)):
        assignments.add_metric([status.value], count)
    yield assignments

    count, size = session.execute(
        select(func.count(FootageClip.id), func.coalesce(func.sum(FootageClip.size_bytes), 0))
    ).one()
    yield GaugeMetricFamily(f"{PREFIX}_clips_stored", "Clips recorded in the database", value=count)
    yield GaugeMetricFamily(f"{PREFIX}_clips_stored_bytes", "Bytes of the clips recorded", value=int(size))

    last_backup = session.scalar(
        select(func.max(AuditEvent.occurred_at)).where(AuditEvent.action == "backup.completed")
    )
    backup = GaugeMetricFamily(
        f"{PREFIX}_last_backup_timestamp_seconds", "When the last scheduled backup completed (Unix time; absent: never)"
    )
    if last_backup is not None:
        backup.add_metric([], last_backup.timestamp())
    yield backup

    expires_at = session.scalar(select(SchedulerLease.expires_at).where(SchedulerLease.name == lease_name))
    yield GaugeMetricFamily(
        f"{PREFIX}_scheduler_lease_seconds_left",
        "Seconds until the jobs lease runs out (negative: no scheduler holds it)",
        value=(expires_at - now).total_seconds() if expires_at is not None else -1e9,
    )


class _Collected:
    def __init__(self, families: Iterable):
        self.families = list(families)

    def collect(self):
        return self.families


def render(families: Iterable[GaugeMetricFamily]) -> tuple[bytes, str]:
    """The exposition text: every process's counts (multiprocess mode) or this one's, and `families`."""
    registry = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS_DIR:
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Collected(REGISTRY.collect()))
    registry.register(_Collected(families))
    return generate_latest(registry), CONTENT_TYPE_LATEST


# --------------------------------------------------------------------------- who may read them


def parse_networks(value: str) -> list:
    networks = []
    for part in (item.strip() for item in value.split(",")):
        if part:
            networks.append(ipaddress.ip_network(part, strict=False))
    return networks


def may_read(remote_addr: str | None, authorization: str | None, allowed: str, token: str) -> bool:
    """From an allowed address, or with the configured Bearer token (compared in constant time)."""
    if (
        token
        and authorization
        and authorization.startswith("Bearer ")
        and hmac.compare_digest(authorization[len("Bearer ") :].strip().encode(), token.encode())
    ):
        return True
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return False
    return any(address in network for network in parse_networks(allowed))
