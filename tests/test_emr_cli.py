"""`henkham emr import PATH…` and the demo records of `henkham demo load`, run in-process with CliRunner on the
test database."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from core.booking.models import Department, Patient
from core.emr.models import Import, Person, ProfileLink, ReExamSlip, Visit
from core.reminders.models import ReExam
from core.timeutil import local_today
from henkham import bootstrap
from henkham.cli import cli
from tests.emr_entry_files import file_of, one_visit_file, refused_visit, visit

pytestmark = pytest.mark.world(days=1)

TEST = "99999"


@pytest.fixture
def run(database_url: str) -> Iterator:
    runner = CliRunner(env={"HENKHAM_DATABASE_URL": database_url})
    bootstrap.load_settings()  # the process's one "development mode" line comes before any captured output

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, list(args))

    yield invoke


def count(db, model) -> int:
    with db.reader() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("error")]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Two good files in a folder tree (one nested), and a file that is neither XML nor JSON (skipped)."""
    (tmp_path / "nested").mkdir()
    (tmp_path / "a.xml").write_bytes(one_visit_file(TEST, "LK-A"))
    (tmp_path / "nested" / "b.XML").write_bytes(
        file_of(TEST, visit(TEST, "LK-B", name="Trần Văn Hai", cccd="096090000222", born="199005050000", sex="1"))
    )
    (tmp_path / "notes.txt").write_text("not an export")
    return tmp_path


def test_a_folder_is_imported_recursively_with_a_summary(run, db, world, folder):
    result = run("emr", "import", str(folder))
    assert result.exit_code == 0, (result.output, result.exception)
    assert "2 file(s); visits: 2 imported, 0 updated, 0 unchanged, 0 refused" in result.stdout
    assert count(db, Visit) == 2 and count(db, Person) == 2

    again = run("emr", "import", str(folder / "a.xml"), str(folder / "nested"))
    assert again.exit_code == 0
    assert "2 file(s); visits: 0 imported, 0 updated, 2 unchanged, 0 refused" in again.stdout
    assert count(db, Visit) == 2, "the same files again change nothing"


def test_a_refused_visit_is_listed_on_its_own_line_and_the_exit_code_is_1(run, db, world, tmp_path):
    path = tmp_path / "mixed.xml"
    path.write_bytes(file_of(TEST, visit(TEST, "LK-GOOD"), refused_visit(TEST, "LK-BAD")))
    result = run("emr", "import", str(path))
    assert result.exit_code == 1, (result.output, result.exception)
    assert "1 file(s); visits: 1 imported, 0 updated, 0 unchanged, 1 refused" in result.stdout
    refused = [line for line in result.stdout.splitlines() if line.startswith("refused ")]
    assert refused and all("LK-BAD" in line for line in refused), result.stdout
    assert "XML2" in refused[0] and "MA_LK" in refused[0], "the line names the table and the field"
    assert count(db, Visit) == 1


def test_a_file_that_is_no_submission_is_refused_and_the_others_still_imported(run, db, world, tmp_path):
    (tmp_path / "a.xml").write_bytes(one_visit_file(TEST))
    (tmp_path / "broken.xml").write_bytes(b"<GIAMDINHHS><THONG")
    result = run("emr", "import", str(tmp_path))
    assert result.exit_code == 1
    assert any("broken.xml" in line for line in result.stdout.splitlines() if line.startswith("refused file"))
    assert count(db, Visit) == 1


def test_the_gateways_base64_string_is_recognised_by_itself_or_with_the_flag(run, db, world, tmp_path):
    path = tmp_path / "gateway.xml"
    path.write_bytes(base64.encodebytes(one_visit_file(TEST)))  # wrapped at 76 characters, as MIME writers do
    assert run("emr", "import", str(path)).exit_code == 0
    assert count(db, Visit) == 1
    result = run("emr", "import", "--base64", str(path))
    assert result.exit_code == 0 and "1 unchanged" in result.stdout


def test_a_missing_path_is_one_error_line_and_nothing_is_imported(run, db, world, tmp_path):
    (tmp_path / "a.xml").write_bytes(one_visit_file(TEST))
    result = run("emr", "import", str(tmp_path / "a.xml"), str(tmp_path / "missing.xml"))
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: cannot read {tmp_path / 'missing.xml'}: no such file or folder"]
    assert count(db, Import) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_is_one_error_line(run, world, tmp_path):
    path = tmp_path / "secret.xml"
    path.write_bytes(one_visit_file(TEST))
    path.chmod(0)
    result = run("emr", "import", str(path))
    assert result.exit_code == 2 and error_lines(result) == [f"error: cannot read {path}: Permission denied"]


def test_a_folder_without_exports_and_bad_base64_are_one_error_line(run, world, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run("emr", "import", str(empty))
    assert result.exit_code == 2 and error_lines(result) == [f"error: no *.xml or *.json file in {empty}"]
    (tmp_path / "x.xml").write_text("***")
    result = run("emr", "import", "--base64", str(tmp_path / "x.xml"))
    assert result.exit_code == 2
    assert error_lines(result) == [f"error: {tmp_path / 'x.xml'}: fileHSBase64 is not valid base64"]


def test_no_path_is_a_usage_error(run):
    result = run("emr", "import")
    assert result.exit_code == 2 and len(error_lines(result)) == 1


# --- demo records ---------------------------------------------------------------------------------------------
def test_demo_load_imports_the_demo_family_and_a_second_run_changes_nothing(run, db):
    first = run("demo", "load", "--days", "1")
    assert first.exit_code == 0, (first.output, first.exception)
    assert "demo records: 3 profiles created; visits 4 imported, 0 updated, 0 unchanged, 0 refused" in first.stdout
    with db.reader() as uow:
        names = set(uow.session.scalars(select(Person.full_name)))
        hospitals = set(uow.session.scalars(select(Visit.facility_code)))
        slips = list(uow.session.scalars(select(ReExamSlip.due_date)))
    assert names == {"DEMO Nguyễn Văn An", "DEMO Trần Thị Bình", "DEMO Lê Minh Khang"}
    assert hospitals == {"96001", "96002", "96003"}
    assert len(slips) == 1 and slips[0] > local_today(), "the inpatient's re-exam date lies ahead"
    assert count(db, Person) == 3, "An's visits at two hospitals form one record"
    assert count(db, ProfileLink) == 3, "every demo profile is linked to its person (same CCCD)"
    with db.reader() as uow:
        reminded = uow.session.execute(
            select(Patient.full_name, Department.slug, ReExam.due_date)
            .join(Patient, Patient.id == ReExam.patient_id)
            .join(Department, Department.id == ReExam.department_id)
        ).all()
    assert [tuple(row) for row in reminded] == [("DEMO Trần Thị Bình", "noi_tong_hop", slips[0])], "she is reminded"

    second = run("demo", "load", "--days", "1")
    assert second.exit_code == 0
    assert "demo records: 0 profiles created; visits 0 imported, 0 updated, 4 unchanged, 0 refused" in second.stdout
    assert count(db, Visit) == 4
