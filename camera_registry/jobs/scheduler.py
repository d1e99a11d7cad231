"""Wiring only: which service runs how often, under the single-runner lease.

Every run first takes or renews the 'jobs' lease; a process that does not
hold it skips the run, so several schedulers may be started (one per web
host, say) and exactly one works at a time. If it dies, another takes over
once the lease expires. The jobs themselves live in services/: each takes
the session factory and runs its own short write units, and each is
idempotent, so a run repeated after a takeover or a failure does nothing
twice. A run that fails (a database locked too long, any exception) is
logged under the job's name and the job runs again at its next tick; it
stops neither the other jobs nor the heartbeat.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import sessionmaker

from .. import metrics
from ..db import write_unit
from ..models.base import utcnow
from ..services import (
    backup,
    commune_coverage,
    commune_figures,
    deadlines,
    delivery,
    evidence,
    import_jobs,
    owner_retention,
    uploads,
)
from ..services.leases import hold_lease, release_lease
from ..services.notifications import NotificationSettings, check_templates

log = logging.getLogger("camera_registry.jobs")

LEASE_NAME = "jobs"
#: The lease's default length (SCHEDULER_LEASE_SECONDS); it is renewed every quarter of its length, at most 15 s.
LEASE_TTL = timedelta(seconds=NotificationSettings.jobs_lease_seconds)
HEARTBEAT_SECONDS = 15

Job = Callable[[sessionmaker, NotificationSettings, datetime], Counter]

#: name -> (service function, seconds between runs)
JOBS: dict[str, tuple[Job, int]] = {
    "deliver_outbox": (delivery.deliver_due, 5),
    "expire_overdue": (deadlines.expire_overdue, 60),
    "escalate_to_police": (deadlines.escalate_near_deadline, 300),
    "remind_owners": (deadlines.remind_unanswered, 300),
    "invite_renewals": (deadlines.invite_renewals, 3600),
    # A ZNS with no delivery receipt after NOTIFY_RECEIPT_WAIT_MINUTES is sent again by SMS.
    "fall_back_unreceipted": (deadlines.fall_back_unreceipted, 60),
    # Checks hourly; backs up when the newest backup in BACKUP_DIR is older than BACKUP_INTERVAL_HOURS (off: no dir).
    "backup_database": (backup.scheduled_backup, 3600),
    # Abandoned resumable uploads lose their partial files after CLIP_UPLOAD_EXPIRY_HOURS without a byte.
    "clean_abandoned_uploads": (uploads.clean_abandoned_uploads, 600),
    # Clips are deleted CLIP_RETENTION_DAYS after their request ended (their records and the audit trail stay).
    "apply_clip_retention": (evidence.apply_retention, 3600),
    # Owners with no active recorder and no open data-subject request, anonymised OWNER_RETENTION_DAYS after the
    # register last did anything with them.
    "apply_owner_retention": (owner_retention.apply_owner_retention, 3600),
    # Registers uploaded on /admin/imports: picked up within seconds, imported one after another.
    "run_imports": (import_jobs.run_imports, 2),
    # Per-commune figures and drawn boundaries (services/commune_figures.py) recounted where writes marked them.
    "refresh_commune_figures": (commune_figures.refresh_commune_figures, 30),
    # How much of each commune the lenses see (services/commune_coverage.py), recomputed where changes marked it.
    "refresh_commune_coverage": (commune_coverage.refresh_commune_coverage, 60),
}


def heartbeat_seconds(settings: NotificationSettings) -> float:
    """Three beats fit in the lease, so one failed renewal never loses it."""
    return min(HEARTBEAT_SECONDS, settings.jobs_lease_seconds / 4)


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    """Runs one job, if this process holds the lease; a failed run is logged, never raised."""

    def __init__(self, session_factory: sessionmaker, settings: NotificationSettings, holder: str | None = None):
        self.session_factory = session_factory
        self.settings = settings
        self.holder = holder or default_holder()
        # A job or a heartbeat still running in the pool at shutdown must not renew the lease after it was
        # given up (another scheduler would then wait out the whole lease): both pass through this lock.
        self._lease_lock = threading.Lock()
        self._released = False

    def holds_lease(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        with self._lease_lock:
            if self._released:
                return False
            return write_unit(
                self.session_factory,
                lambda session: hold_lease(session, LEASE_NAME, self.holder, self.settings.jobs_lease, now),
            )

    def heartbeat(self) -> None:
        """Renew the lease; a failure is logged and the next beat tries again (the lease outlasts three beats)."""
        try:
            self.holds_lease()
        except Exception:  # noqa: BLE001 - a beat that fails must not stop the next one
            log.exception("lease_heartbeat failed; trying again in %d s", heartbeat_seconds(self.settings))

    def run(self, name: str, now: datetime | None = None) -> Counter | None:
        """The job's counts, or None when another runner holds the lease or the run failed (logged)."""
        now = now or utcnow()
        job, _ = JOBS[name]
        started = time.perf_counter()
        try:
            if not self.holds_lease(now):
                log.debug("%s skipped: another scheduler holds the lease", name)
                metrics.count_job_run(name, "skipped")
                return None
            counts = job(self.session_factory, self.settings, now)
        except Exception:  # noqa: BLE001 - one failed run must stop neither this job's next tick nor the others
            seconds = time.perf_counter() - started
            metrics.count_job_run(name, "failed", seconds)
            log.exception(
                "%s failed; it runs again at its next tick",
                name,
                extra={"fields": {"job": name, "outcome": "failed", "seconds": round(seconds, 3)}},
            )
            return None
        seconds = time.perf_counter() - started
        metrics.count_job_run(name, "ok", seconds, counts)
        # One line per run (camera_registry/logs.py): the job, how it went, how long it took, what it did.
        fields = {"job": name, "outcome": "ok", "seconds": round(seconds, 3)}
        fields.update({str(key): value for key, value in sorted(counts.items()) if str(key) not in fields})
        log.info(
            "%s: %s",
            name,
            ", ".join(f"{key} {value}" for key, value in sorted(counts.items())) or "nothing to do",
            extra={"fields": fields},
        )
        return counts

    def release(self) -> None:
        """Hand the lease over at once, for good; if the database will not take that, it runs out by itself."""
        with self._lease_lock:
            self._released = True
        try:
            write_unit(self.session_factory, lambda session: release_lease(session, LEASE_NAME, self.holder, utcnow()))
        except Exception:  # noqa: BLE001 - shutting down: the ttl hands the lease over anyway
            log.exception(
                "could not release the %s lease; another scheduler takes it within %s",
                LEASE_NAME,
                self.settings.jobs_lease,
            )


def build_scheduler(runner: JobRunner, scheduler_class: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """Every job at its interval (first run at once), plus a heartbeat that keeps the lease during long runs."""
    scheduler = scheduler_class(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(
        runner.heartbeat,
        "interval",
        seconds=heartbeat_seconds(runner.settings),
        id="lease_heartbeat",
        name="lease_heartbeat",
    )
    for name, (_, seconds) in JOBS.items():
        scheduler.add_job(
            runner.run, "interval", seconds=seconds, args=(name,), id=name, name=name, next_run_time=utcnow()
        )
    return scheduler


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(0)


def run_scheduler(session_factory: sessionmaker, settings: NotificationSettings) -> None:
    """Run in the foreground, logging to stdout, until interrupted or terminated; then give up the lease.

    Refuses to start (ChannelSetupError) when a configured ZNS or SMS provider's templates cannot be sent."""
    check_templates(settings)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run every 5 s; job errors still show
    runner = JobRunner(session_factory, settings)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    log.info(
        "scheduler %s starting: %s",
        runner.holder,
        ", ".join(f"{name} every {seconds}s" for name, (_, seconds) in JOBS.items()),
    )
    scheduler = build_scheduler(runner)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        if scheduler.running:
            scheduler.shutdown(wait=False)
        runner.release()
        log.info("scheduler %s stopped", runner.holder)
