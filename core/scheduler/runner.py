"""The scheduler loop: wait to lead, then run the jobs with APScheduler until stopped or the lead is lost.

Jobs hold no state of their own: each run derives what is due from the database and claims it there, so a
new leader simply carries on where the old one stopped.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from prometheus_client import Histogram

from .leadership import Leadership

log = logging.getLogger(__name__)

RETRY_SECONDS = 10.0  # a follower's wait between attempts to lead: a stopped leader is replaced within it
CHECK_SECONDS = 5.0  # the leader's check that it still holds the lead


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], object]
    every_seconds: float


JOB_SECONDS = Histogram(
    "henkham_scheduler_job_seconds",
    "Time one run of a scheduler job took, per job",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def _timed(job: Job) -> Callable[[], object]:
    def run() -> object:
        with JOB_SECONDS.labels(job=job.name).time():
            return job.run()

    return run


def run_scheduler(
    leadership: Leadership,
    jobs: Sequence[Job],
    stop: threading.Event,
    *,
    retry_seconds: float = RETRY_SECONDS,
    check_seconds: float = CHECK_SECONDS,
    beat: Callable[[], None] = lambda: None,
) -> None:
    """Lead when possible and run ``jobs`` (each at most once at a time, missed runs coalesced) until
    ``stop`` is set; a leader that loses the lead stops its jobs and goes back to waiting. ``beat`` is called
    at every check (the process's heartbeat: leading or waiting, it is alive)."""
    announced_waiting = False
    while not stop.is_set():
        beat()
        if not leadership.try_lead():
            if not announced_waiting:
                log.info("scheduler: another process leads; trying again every %g s", retry_seconds)
                announced_waiting = True
            stop.wait(retry_seconds)
            continue
        announced_waiting = False
        log.info("scheduler: leading (%s)", ", ".join(job.name for job in jobs))
        scheduler = BackgroundScheduler(timezone=dt.UTC)
        for job in jobs:
            scheduler.add_job(
                _timed(job),
                "interval",
                seconds=job.every_seconds,
                id=job.name,
                name=job.name,
                max_instances=1,
                coalesce=True,
                next_run_time=dt.datetime.now(dt.UTC),
            )
        scheduler.start()
        try:
            while not stop.wait(check_seconds):
                beat()
                if not leadership.still_leading():
                    log.warning("scheduler: lost the lead; stopping the jobs")
                    break
        finally:
            scheduler.shutdown(wait=True)
            leadership.release()
