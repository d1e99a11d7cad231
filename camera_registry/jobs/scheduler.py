"""Wiring only: which service runs how often, under the single-runner lease.

Every run first takes or renews the 'jobs' lease; a process that does not
hold it skips the run, so several schedulers may be started (one per web
host, say) and exactly one works at a time. If it dies, another takes over
once the lease expires. The jobs themselves live in services/ and are
idempotent, so a run repeated after a takeover does nothing twice.
"""
from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from sqlalchemy.orm import Session, sessionmaker

from ..models.base import utcnow
from ..services import deadlines, delivery
from ..services.leases import hold_lease, release_lease
from ..services.notifications import NotificationSettings

log = logging.getLogger("camera_registry.jobs")

LEASE_NAME = "jobs"
LEASE_TTL = timedelta(seconds=60)
HEARTBEAT_SECONDS = 15

Job = Callable[[Session, NotificationSettings, datetime], dict]

#: name -> (service function, seconds between runs)
JOBS: dict[str, tuple[Job, int]] = {
    "deliver_outbox": (delivery.deliver_due, 5),
    "expire_overdue": (deadlines.expire_overdue, 60),
    "escalate_to_police": (deadlines.escalate_near_deadline, 300),
    "remind_owners": (deadlines.remind_unanswered, 300),
    "invite_renewals": (deadlines.invite_renewals, 3600),
}


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class JobRunner:
    """Runs one job in its own session, if this process holds the lease."""

    def __init__(self, session_factory: sessionmaker, settings: NotificationSettings, holder: str | None = None):
        self.session_factory = session_factory
        self.settings = settings
        self.holder = holder or default_holder()

    def holds_lease(self, now: datetime | None = None) -> bool:
        with self.session_factory() as session:
            held = hold_lease(session, LEASE_NAME, self.holder, LEASE_TTL, now or utcnow())
            session.commit()
        return held

    def run(self, name: str, now: datetime | None = None) -> dict | None:
        """The job's counts, or None when another runner holds the lease."""
        now = now or utcnow()
        if not self.holds_lease(now):
            log.debug("%s skipped: another scheduler holds the lease", name)
            return None
        job, _ = JOBS[name]
        with self.session_factory() as session:
            counts = job(session, self.settings, now)
            session.commit()
        if any(counts.values()):
            log.info("%s: %s", name, ", ".join(f"{key} {value}" for key, value in sorted(counts.items())))
        return counts

    def release(self) -> None:
        with self.session_factory() as session:
            release_lease(session, LEASE_NAME, self.holder, utcnow())
            session.commit()


def build_scheduler(runner: JobRunner, scheduler_class: type[BaseScheduler] = BlockingScheduler) -> BaseScheduler:
    """Every job at its interval (first run at once), plus a heartbeat that keeps the lease during long runs."""
    scheduler = scheduler_class(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    scheduler.add_job(runner.holds_lease, "interval", seconds=HEARTBEAT_SECONDS, id="lease_heartbeat",
                      name="lease_heartbeat")
    for name, (_, seconds) in JOBS.items():
        scheduler.add_job(runner.run, "interval", seconds=seconds, args=(name,), id=name, name=name,
                          next_run_time=utcnow())
    return scheduler


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(0)


def run_scheduler(session_factory: sessionmaker, settings: NotificationSettings) -> None:
    """Run in the foreground, logging to stdout, until interrupted or terminated; then give up the lease."""
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # not a line per run every 5 s; job errors still show
    runner = JobRunner(session_factory, settings)
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    log.info("scheduler %s starting: %s", runner.holder, ", ".join(f"{name} every {seconds}s"
                                                                    for name, (_, seconds) in JOBS.items()))
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
