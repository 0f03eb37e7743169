"""Raw imported files are kept for emr_raw_retention_days, then deleted by the scheduler; the record stays."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.config import Settings
from core.emr.models import Import, ImportFile
from core.emr.retention import delete_expired_raw_files
from henkham import bootstrap
from tests.conftest import NOW


def _import(db, *, days_ago: float, content: bytes = b"<GIAMDINHHS/>") -> int:
    with db.uow() as uow:
        row = Import(
            format="xml130",
            channel="cli",
            filename=f"file-{days_ago}.xml",
            sha256="0" * 64,
            size=len(content),
            received_at=NOW - dt.timedelta(days=days_ago),
            imported=1,
        )
        uow.session.add(row)
        uow.session.flush()
        uow.session.add(ImportFile(import_id=row.id, content=content))
        uow.commit()
        return row.id


def _state(db) -> dict[int, tuple[bool, dt.datetime | None]]:
    """import id -> (raw file still kept, raw_deleted_at)."""
    with db.reader() as uow:
        kept = set(uow.session.scalars(select(ImportFile.import_id)))
        return {i: (i in kept, deleted) for i, deleted in uow.session.execute(select(Import.id, Import.raw_deleted_at))}


def test_raw_files_older_than_the_retention_are_deleted_and_the_import_says_when(db):
    old, older, recent = _import(db, days_ago=91), _import(db, days_ago=400), _import(db, days_ago=89)

    assert delete_expired_raw_files(db, retention_days=90, now=NOW, batch=1) == 2

    state = _state(db)
    assert state[old] == (False, NOW) and state[older] == (False, NOW)
    assert state[recent] == (True, None), "a file within its retention is kept"
    assert set(state) == {old, older, recent}, "the import rows (and their reports) stay"


def test_a_second_run_deletes_nothing_more(db):
    _import(db, days_ago=100)
    assert delete_expired_raw_files(db, retention_days=90, now=NOW) == 1
    later = NOW + dt.timedelta(days=1)
    assert delete_expired_raw_files(db, retention_days=90, now=later) == 0
    assert list(_state(db).values()) == [(False, NOW)], "the first deletion's time is kept"


def test_the_scheduler_runs_the_retention_and_inbox_jobs(database_url, db):
    jobs = {job.name: job for job in bootstrap.jobs(Settings(database_url=database_url), db)}
    assert {"emr_raw_retention", "emr_inbox"} <= set(jobs)
    stale = _import(db, days_ago=365)
    jobs["emr_raw_retention"].run()  # the job uses the default retention (90 days) and the clock
    assert _state(db)[stale][0] is False
