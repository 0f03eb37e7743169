"""The inbox folder per hospital (core/emr/inbox.py, a scheduler job): files a HIS drops are imported, confined to
the hospital of their folder, and moved to done/ or failed/ with their report beside them."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.config import Settings
from core.emr.inbox import process_inbox
from core.emr.models import Visit
from henkham import bootstrap
from tests.emr_entry_files import file_of, one_visit_file, refused_visit, visit
from tests.factories import add_hospital

pytestmark = pytest.mark.world(days=1)

TEST, OTHER = "99999", "88888"
MAX = 1_000_000


def count_visits(db) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(Visit))


def drop(root: Path, facility: str, name: str, data: bytes, *, age_seconds: float = 3600) -> Path:
    folder = root / facility
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    then = time.time() - age_seconds
    os.utime(path, (then, then))
    return path


def report_of(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".report.json").read_text(encoding="utf-8"))


def run(db, root: Path, settle: float = 60):
    return process_inbox(db, root, settle_seconds=settle, max_bytes=MAX)


def test_a_good_file_is_imported_and_moved_to_done_with_its_report(db, world, tmp_path):
    drop(tmp_path, TEST, "visits.xml", one_visit_file(TEST))
    handled = run(db, tmp_path)
    assert [(h.name, h.outcome) for h in handled] == [("visits.xml", "done")]
    done = tmp_path / TEST / "done" / "visits.xml"
    assert done.exists() and not (tmp_path / TEST / "visits.xml").exists()
    assert report_of(done)["imported"] == 1
    assert count_visits(db) == 1
    assert run(db, tmp_path) == [], "nothing is taken twice"


def test_a_file_with_a_refused_visit_goes_to_failed_and_the_rest_is_imported(db, world, tmp_path):
    drop(tmp_path, TEST, "mixed.xml", file_of(TEST, visit(TEST, "LK-1"), refused_visit(TEST, "LK-2")))
    assert [h.outcome for h in run(db, tmp_path)] == ["failed"]
    report = report_of(tmp_path / TEST / "failed" / "mixed.xml")
    assert report["imported"] == 1 and report["refused"] == 1
    assert count_visits(db) == 1


def test_a_file_of_another_hospital_in_this_hospitals_folder_is_refused_whole(db, world, tmp_path):
    add_hospital(db, "other")
    drop(tmp_path, TEST, "theirs.xml", one_visit_file(OTHER))
    assert [h.outcome for h in run(db, tmp_path)] == ["failed"]
    assert (tmp_path / TEST / "failed" / "theirs.xml.report.json").exists()
    assert count_visits(db) == 0


def test_a_folder_of_an_unknown_facility_has_its_files_failed_with_a_report_saying_so(db, world, tmp_path):
    drop(tmp_path, "12345", "x.xml", one_visit_file("12345"))
    assert [(h.facility_code, h.outcome) for h in run(db, tmp_path)] == [("12345", "failed")]
    report = report_of(tmp_path / "12345" / "failed" / "x.xml")
    assert report["error"]["code"] == "unknown_facility" and "12345" in report["error"]["message"]
    assert count_visits(db) == 0


def test_files_still_being_written_are_left_alone(db, world, tmp_path):
    drop(tmp_path, TEST, "fresh.xml", one_visit_file(TEST), age_seconds=0)
    drop(tmp_path, TEST, "upload.xml.part", one_visit_file(TEST))
    drop(tmp_path, TEST, ".upload.xml", one_visit_file(TEST))
    assert run(db, tmp_path, settle=60) == []
    assert sorted(p.name for p in (tmp_path / TEST).iterdir()) == [".upload.xml", "fresh.xml", "upload.xml.part"]
    assert count_visits(db) == 0


def test_the_same_name_dropped_again_keeps_both_reports(db, world, tmp_path):
    drop(tmp_path, TEST, "daily.xml", one_visit_file(TEST))
    run(db, tmp_path)
    drop(tmp_path, TEST, "daily.xml", one_visit_file(TEST))
    assert [h.outcome for h in run(db, tmp_path)] == ["done"]
    done = sorted(p.name for p in (tmp_path / TEST / "done").iterdir())
    assert len(done) == 4 and "daily.xml" in done, done
    resent = next(name for name in done if name.endswith("-daily.xml"))
    assert report_of(tmp_path / TEST / "done" / resent)["unchanged"] == 1


def test_the_gateways_base64_string_is_taken_too(db, world, tmp_path):
    drop(tmp_path, TEST, "gateway.txt", base64.b64encode(one_visit_file(TEST)))
    assert [h.outcome for h in run(db, tmp_path)] == ["done"]
    assert count_visits(db) == 1


def test_a_file_over_the_limit_is_failed_unread(db, world, tmp_path):
    drop(tmp_path, TEST, "huge.xml", b"<" + b"x" * MAX)
    assert [h.outcome for h in run(db, tmp_path)] == ["failed"]
    assert report_of(tmp_path / TEST / "failed" / "huge.xml")["error"]["code"] == "too_large"


def test_a_crash_during_the_import_leaves_the_file_for_the_next_run(db, world, tmp_path):
    path = drop(tmp_path, TEST, "visits.xml", one_visit_file(TEST))

    def crashing(*args, **kwargs):
        raise RuntimeError("the database went away")

    assert process_inbox(db, tmp_path, settle_seconds=60, max_bytes=MAX, importer=crashing) == []
    assert path.exists() and not (tmp_path / TEST / "done").exists()
    assert [h.outcome for h in run(db, tmp_path)] == ["done"]
    assert count_visits(db) == 1


def test_the_scheduler_job_reads_the_configured_folder(database_url, db, world, tmp_path):
    settings = Settings(database_url=database_url, emr_inbox_dir=str(tmp_path), emr_inbox_settle_seconds=0)
    job = next(job for job in bootstrap.jobs(settings, db) if job.name == "emr_inbox")
    drop(tmp_path, TEST, "visits.xml", one_visit_file(TEST))
    job.run()
    assert (tmp_path / TEST / "done" / "visits.xml").exists()
    assert count_visits(db) == 1


def test_a_missing_inbox_folder_is_nothing_to_do(db, tmp_path):
    assert process_inbox(db, tmp_path / "absent", settle_seconds=0, max_bytes=MAX) == []
