"""The pure part of record summaries (core/emr/summaries.py): a stored record (core.emr.reading.StoredRecord,
built here from tests/emr_records.py values) into what the chat shows, without a database."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from core.emr import records as r
from core.emr.exclusions import Exclusions
from core.emr.reading import StoredRecord, StoredVisit
from core.emr.record_access import Linked
from core.emr.summaries import MAX_OTHERS, NoVisitFound, Places, chat_view, summarize
from tests.conftest import NOW
from tests.emr_records import identity, visit

TODAY = dt.date(2026, 12, 7)
PLACES = Places(
    hospitals={"99999": (1, "Bệnh viện Thử nghiệm", "test")},
    departments={(1, "K01"): "Khoa Khám bệnh", (1, "K19"): "Khoa Nội tổng hợp"},
)
PERSON = Linked(1, 1, "self", "Phạm Văn Nam", "Nam", 1953, False, "otp")


def stored(*records: r.VisitRecord, immunizations: tuple[r.Immunization, ...] = ()) -> StoredRecord:
    """The records as the store returns them: newest first, visit ids 100, 101, … in that order."""
    ordered = sorted(records, key=lambda v: v.arrived_at, reverse=True)
    metas = tuple(
        StoredVisit(
            visit_id=100 + i,
            person_id=1,
            facility_code=v.facility_code,
            visit_key=v.visit_key,
            hospital_id=1 if v.facility_code == "99999" else None,
            version=1,
            source="xml130",
            import_id=None,
            imported_at=NOW,
        )
        for i, v in enumerate(ordered)
    )
    return StoredRecord(1, r.PersonRecord(identity(1), tuple(ordered), immunizations), metas)


def one(record: r.VisitRecord):
    return summarize(stored(record), 100, places=PLACES, exclusions=Exclusions(), today=TODAY)


def test_an_inpatient_visit_reads_with_department_names_values_and_the_labs_own_marks():
    summary = one(visit(10))  # inpatient: K01 then K19; RBC 5.0 within 3.8 - 5.5

    assert summary.ref.departments == ("Khoa Khám bệnh", "Khoa Nội tổng hợp")
    assert summary.ref.day == dt.date(2020, 1, 11)
    assert [(d.code, d.name_vi) for d in summary.diagnoses] == [
        ("M54.5", "Đau thắt lưng"),
        ("J18.9", "Viêm phổi, không đặc hiệu"),
    ]
    rbc, wbc = summary.lab
    assert (rbc.value, rbc.unit, rbc.reference_range, rbc.abnormal) == ("5.0", "T/L", "3.8 - 5.5", False)
    assert (wbc.value, wbc.unit, wbc.abnormal) == ("<0.5", "G/L", None)
    first_drug = summary.medications[0]
    assert (first_drug.name, first_drug.quantity, first_drug.days) == ("Paracetamol 500mg", "10", 5)
    assert summary.re_exam == dt.date(2020, 1, 18), "the XML14 slip's date"


def test_a_diagnosis_the_record_gives_no_wording_for_reads_as_the_who_title():
    plain = dataclasses.replace(visit(1), diagnoses=(r.Diagnosis("J06.9", True, ""),))
    [line] = one(plain).diagnoses
    assert (line.code, line.name_vi, line.principal) == (
        "J06.9",
        "Acute upper respiratory infection, unspecified",
        True,
    )


def test_a_facility_that_is_no_henkham_hospital_is_named_by_its_code():
    ref = one(visit(1, facility_code="79001")).ref
    assert (ref.facility_name, ref.hospital_slug, ref.departments) == ("Cơ sở khám chữa bệnh 79001", None, ())


def test_without_a_slip_the_re_exam_is_the_first_ngay_tai_kham_from_today_on():
    dates = (dt.date(2026, 11, 1), dt.date(2026, 12, 20), dt.date(2027, 1, 5))
    record = dataclasses.replace(visit(1), re_exam=None, re_exam_dates=dates)
    assert one(record).re_exam == dt.date(2026, 12, 20)
    past = dataclasses.replace(record, re_exam_dates=dates[:1])
    assert one(past).re_exam == dt.date(2026, 11, 1)


def test_the_advice_joins_xml1_xml7_and_xml8_notes_once_each():
    record = visit(10)
    record = dataclasses.replace(
        record,
        advice="Ăn nhẹ",
        discharge=dataclasses.replace(record.discharge, note="Tránh vận động mạnh"),
        summary=dataclasses.replace(record.summary, note="Ăn nhẹ"),
    )
    assert one(record).advice == "Ăn nhẹ\nTránh vận động mạnh"


def test_a_diagnosis_worded_with_an_excluded_word_withholds_the_visit():
    record = dataclasses.replace(visit(1), diagnoses=(r.Diagnosis("Z00.0", True, "Tư vấn sau xét nghiệm HIV"),))
    summary = one(record)
    assert summary.withheld and summary.diagnoses == () and summary.lab == () and summary.advice == ""
    assert summary.re_exam is not None, "the re-exam date stays: the reminders send it anyway"


def test_an_imaging_report_without_its_service_is_told_by_its_conclusion():
    report = r.Result(position=3, service_code="", name="Siêu âm ổ bụng", conclusion="Gan nhiễm mỡ độ I")
    record = dataclasses.replace(visit(1), results=(*visit(1).results, report))
    summary = one(record)
    assert [x.conclusion for x in summary.imaging] == ["Gan nhiễm mỡ độ I"] and len(summary.lab) == 2


def test_the_view_lists_at_most_nine_other_visits_newest_first_and_the_vaccines_newest_first():
    shots = (
        r.Immunization("s|1", "Vắc xin cúm", dt.date(2025, 10, 1), dose_number="1"),
        r.Immunization("s|2", "Vắc xin cúm", dt.date(2026, 10, 3), dose_number="2"),
        r.Immunization("s|3", "Vắc xin uốn ván", dt.date(2026, 1, 3), status="not-done"),
    )
    record = stored(*(visit(n, person=1) for n in range(12)), immunizations=shots)

    view = chat_view(record, PERSON, places=PLACES, exclusions=Exclusions(), today=TODAY)
    assert view.visit.ref.visit_id == 100 and view.total_visits == 12
    assert [o.visit_id for o in view.others] == list(range(101, 101 + MAX_OTHERS))
    assert [(v.name, v.day, v.dose_number) for v in view.vaccines] == [
        ("Vắc xin cúm", dt.date(2026, 10, 3), "2"),
        ("Vắc xin cúm", dt.date(2025, 10, 1), "1"),
    ]
    assert view.masked_ids == ("CCCD ********0001", "Thẻ BHYT ***********0001")

    shots_only = chat_view(record, PERSON, places=PLACES, exclusions=Exclusions(), today=TODAY, section="tiem_chung")
    assert shots_only.visit is None and len(shots_only.vaccines) == 2


def test_a_day_inside_an_inpatient_stay_finds_the_stay():
    record = stored(visit(10, person=1), visit(11, person=1))  # 10: 11/01/2020 + 3 days in hospital
    view = chat_view(record, PERSON, places=PLACES, exclusions=Exclusions(), today=TODAY, on_day=dt.date(2020, 1, 13))
    assert view.visit.ref.day == dt.date(2020, 1, 11)
    with pytest.raises(NoVisitFound):
        chat_view(record, PERSON, places=PLACES, exclusions=Exclusions(), today=TODAY, on_day=dt.date(2020, 1, 20))


def test_a_visit_corrected_between_the_check_and_the_read_is_no_longer_found():
    with pytest.raises(NoVisitFound) as gone:
        chat_view(stored(visit(1)), PERSON, places=PLACES, exclusions=Exclusions(), today=TODAY, visit_id=999)
    assert "cập nhật" in gone.value.message_vi
