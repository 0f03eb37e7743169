"""The services a hospital does and their departments (core.booking.services): its catalogue loaded from a CSV
file, the bookable XML3 services of its imported visits learnt, and a patient's words read against both."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from core.booking.models import Department, HospitalService
from core.booking.services import department_for_service, load_catalogue
from core.emr.importing import import_bytes
from core.errors import InvalidInput, NotFound
from core.uow import Database
from henkham.cli import cli
from tests import emr_his_files as his
from tests.factories import add_department, build_world

CATALOGUE = [
    ("Nội soi dạ dày tá tràng không gây mê", "tieu_hoa"),
    ("Nội soi dạ dày tá tràng có gây mê", "tieu_hoa"),
    ("Nội soi tai mũi họng", "tai_mui_hong"),
    ("Đo khúc xạ tự động", "mat"),
    ("Khám sàng lọc sơ sinh", "nhi"),
]


@pytest.fixture
def hospital(db: Database) -> Database:
    build_world(db, start=dt.date(2026, 12, 7), days=1)
    add_department(db, "tieu_hoa", "Tiêu hóa")
    add_department(db, "tai_mui_hong", "Tai mũi họng")
    return db


def department(db: Database, text: str) -> str | None:
    with db.reader() as uow:
        found = department_for_service(uow, "test", text)
    return found.department if found else None


def test_a_service_of_the_catalogue_is_found_in_the_patients_words_with_or_without_diacritics(hospital) -> None:
    with hospital.uow() as uow:
        assert load_catalogue(uow, "test", CATALOGUE) == 5
    assert department(hospital, "cho em đặt lịch đo khúc xạ tự động sáng mai") == "mat"
    assert department(hospital, "dat lich do khuc xa tu dong cho be") == "mat"
    assert department(hospital, "KHÁM SÀNG LỌC SƠ SINH cho bé nhà em") == "nhi"
    assert department(hospital, "đặt lịch khám mắt") is None  # no service named: the NLU's department stands


def test_the_first_words_of_a_long_name_count_when_they_point_to_one_department(hospital) -> None:
    with hospital.uow() as uow:
        load_catalogue(uow, "test", CATALOGUE)
    assert department(hospital, "em muốn nội soi dạ dày") == "tieu_hoa"  # both gastroscopies are tieu_hoa
    assert department(hospital, "noi soi tai mui hong cho con") == "tai_mui_hong"  # the longer name wins
    assert department(hospital, "em muốn nội soi") is None  # "nội soi" alone: two departments do it
    with hospital.reader() as uow:
        found = department_for_service(uow, "test", "cho em nội soi dạ dày nhé")
    assert found is not None and "cho em nội soi dạ dày nhé"[found.start : found.end] == "nội soi dạ dày"


def test_loading_replaces_the_catalogue_and_one_bad_row_changes_nothing(hospital) -> None:
    with hospital.uow() as uow:
        load_catalogue(uow, "test", CATALOGUE)
    with hospital.uow() as uow, pytest.raises(InvalidInput, match="row 2: test has no department 'da_lieu'"):
        load_catalogue(uow, "test", [("Đo thị lực", "mat"), ("Soi da", "da_lieu")])
    assert department(hospital, "đo khúc xạ tự động") == "mat"  # the old catalogue stays whole
    with hospital.uow() as uow, pytest.raises(InvalidInput, match="row 1"):
        load_catalogue(uow, "test", [("  ", "mat")])
    with hospital.uow() as uow:
        assert load_catalogue(uow, "test", [("Đo thị lực", "mat")]) == 1
    assert department(hospital, "đo khúc xạ tự động") is None
    assert department(hospital, "đo thị lực cho mẹ") == "mat"
    with hospital.uow() as uow, pytest.raises(NotFound):
        load_catalogue(uow, "nowhere", CATALOGUE)


def test_an_import_teaches_the_hospital_its_bookable_services_and_the_catalogue_wins(hospital) -> None:
    with hospital.uow() as uow:
        uow.session.execute(update(Department).where(Department.slug == "mat").values(his_codes="K02"))
        uow.session.execute(update(Department).where(Department.slug == "nhi").values(his_codes="K19"))
        uow.commit()
        load_catalogue(uow, "test", [("Chụp X-quang ngực thẳng", "nhi")])
    visit = his.outpatient(
        exams=[
            his.Exam(),  # "Khám Nội", an exam of K02
            his.Exam(code="22.0120.1370", name="Tổng phân tích tế bào máu ngoại vi", group="1"),  # a lab test
            his.Exam(code="18.0119.0028", name="Chụp X-quang ngực thẳng", group="2"),  # named by the catalogue
            his.Exam(code="02.0316.0595", name="Đo nhãn áp (Maklakov, Goldmann, Schiotz…)", group="3"),
            his.Exam(code="03.0011.0200", name="Nội soi thanh quản", group="8", department="K99"),  # unknown code
        ]
    )
    report = import_bytes(hospital, his.submission_bytes([visit], facility_code="99999"), channel="test")
    assert report.imported == 1
    with hospital.reader() as uow:
        stored = {
            row.name: (row.source, slug)
            for row, slug in uow.session.execute(
                select(HospitalService, Department.slug).join(
                    Department, Department.id == HospitalService.department_id
                )
            )
        }
    assert stored == {
        "Chụp X-quang ngực thẳng": ("catalogue", "nhi"),
        "Khám Nội": ("his", "mat"),
        "Đo nhãn áp (Maklakov, Goldmann, Schiotz…)": ("his", "mat"),
    }
    assert department(hospital, "do nhan ap cho ba em") == "mat"
    assert department(hospital, "tổng phân tích tế bào máu") is None  # a lab test is ordered, not booked


def test_the_cli_loads_a_csv_file_and_refuses_a_bad_one_in_one_line(hospital, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HENKHAM_DATABASE_URL", str(hospital.engine.url.render_as_string(hide_password=False)))
    good = tmp_path / "services.csv"
    rows = 'name,department\nĐo khúc xạ tự động,mat\n"Khám sàng lọc sơ sinh, trẻ sinh non",nhi\n'
    good.write_text(rows, "utf-8-sig")
    runner = CliRunner()
    result = runner.invoke(cli, ["services", "load", str(good), "--hospital", "test"])
    assert result.exit_code == 0, result.output
    assert "test: 2 services in the catalogue" in result.output
    assert department(hospital, "kham sang loc so sinh tre sinh non") == "nhi"
    bad = tmp_path / "bad.csv"
    bad.write_text("ten,khoa\nĐo thị lực,mat\n", "utf-8")
    refused = runner.invoke(cli, ["services", "load", str(bad), "--hospital", "test"])
    assert refused.exit_code == 2 and refused.output.strip().count("\n") == 0
    assert "the first line must be name,department" in refused.output
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("name,department\nSoi da,da_lieu\n", "utf-8")
    refused = runner.invoke(cli, ["services", "load", str(unknown), "--hospital", "test"])
    assert refused.exit_code == 1 and "has no department 'da_lieu'" in refused.output
    nul = tmp_path / "nul.csv"
    nul.write_bytes("name,department\nĐo thị lực,mat\nSoi\x00da,mat\n".encode())  # PostgreSQL stores no NUL
    refused = runner.invoke(cli, ["services", "load", str(nul), "--hospital", "test"])
    assert refused.exit_code == 1 and "row 2: a service name" in refused.output, refused.output
    huge = tmp_path / "huge.csv"
    huge.write_text('name,department\nĐo thị lực,mat\n"' + "x" * 200_000 + '",mat\n', "utf-8")
    refused = runner.invoke(cli, ["services", "load", str(huge), "--hospital", "test"])
    assert refused.exit_code == 2 and refused.output.strip().count("\n") == 0, refused.output
    assert "field larger than field limit" in refused.output
    assert department(hospital, "đo khúc xạ tự động") == "mat"
