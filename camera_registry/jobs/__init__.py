"""The scheduler process: APScheduler runs the clock-driven services (`camera-registry scheduler`)."""

from .scheduler import JOBS, JobRunner, build_scheduler, run_scheduler

__all__ = ["JOBS", "JobRunner", "build_scheduler", "run_scheduler"]
