"""Record summaries in chat (core/emr/summaries.py): what a linked Zalo user reads of a record imported from the
HIS files (tests/emr_his_files.py), through the gate (link, consent, the visit asked for), audited.

The patient, Nguyễn Văn An (CCCD 079085012345), has an outpatient visit at "Bệnh viện Thử nghiệm" (facility
99999) on 02/11/2026 with a blood count, a glucose test, an HIV test and a chest X-ray; a visit at "Bệnh viện
Khác" (88888) on 20/11/2026; and a psychiatric visit (F32.9) at 99999 on 10/10/2026.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from core.audit import Actor
from core.booking.models import Department
from core.emr import consent, reading
from core.emr import models as m
from core.emr.exclusions import Exclusions
from core.emr.importing import import_bytes
from core.emr.record_access import NotLinked, chat_reader, issue_desk_code, link_at_desk
from core.emr.summaries import ChoosePerson, NoVisitFound, VisitNotInRecord, chat_record
from core.uow import Database
from tests import emr_his_files as his
from tests.conftest import NOW
from tests.factories import add_hospital
from tests.test_emr_reading import audit_rows
from tests.test_upcoming_queries import counted

OA = "oa-test"
CCCD = "079085012345"
STAFF = Actor(kind="api_client", client_id=None, client_name="quay-tiep-don")
HIV_TEST = his.Exam(
    code="22.0115.1597",
    name="HIV Ab test nhanh",
    group="1",
    result_at="202611020900",
    results=[his.Lab(name="HIV Ab test nhanh", value="Âm tính", unit="", reference="")],
)


def import_visit(db: Database, visit: his.Visit, facility: str = "99999") -> int:
    report = import_bytes(db, his.submission_bytes([visit], facility), channel="cli", now=NOW)
    [item] = report.items
    assert item.visit_id is not None, report.as_dict()
    return item.visit_id


def outpatient(**changes: object) -> his.Visit:
    visit = his.outpatient(**changes)
    return visit.with_(exams=[*visit.exams, HIV_TEST])


def psychiatric(**changes: object) -> his.Visit:
    return his.outpatient(
        ma_lk="LK-TT-01",
        arrived="202610100800",
        discharged="202610101000",
        departments="K19",
        admission_diagnosis="Trầm cảm",
        discharge_diagnosis="F32.9 - Giai đoạn trầm cảm, không biệt định",
        principal="F32.9",
        secondary="",
        advice="Uống thuốc đều, tái khám khoa Tâm thần",
        re_exam_dates="20261110",
        drugs=[his.Drug(name="Sertralin", strength="50mg", dose="1 viên/lần * 1 lần/ngày * 30 ngày", quantity="30")],
        **changes,
    )


def at_other(**changes: object) -> his.Visit:
    return his.outpatient(
        ma_lk="LK-KHAC-01",
        arrived="202611200800",
        discharged="202611201000",
        discharge_diagnosis="I10 - Tăng huyết áp vô căn",
        principal="I10",
        secondary="",
        re_exam_dates="",
        exams=[],
        drugs=[his.Drug(name="Amlodipin", strength="5mg", dose="1 viên/lần * 1 lần/ngày * 30 ngày", quantity="30")],
        **changes,
    )


def link(db: Database, account_id: int, person_id: int, *, relation: str = "self", agree: bool = True) -> None:
    """The desk links the account (the staff saw the CCCD); the account agrees to summaries in chat."""
    with db.uow() as uow:
        code, _ = issue_desk_code(uow, account_id, now=NOW)
    with db.uow() as uow:
        link_at_desk(uow, code, person_id, relation=relation, staff=STAFF, now=NOW)
    if agree:
        with db.uow() as uow:
            consent.decide(uow, account_id, consent.SUMMARY, True, channel="zalo", now=NOW)


def person_of(db: Database, visit_id: int) -> int:
    with db.uow() as uow:
        return uow.session.scalar(select(m.Visit.person_id).where(m.Visit.id == visit_id))


def ask(db: Database, account_id: int, **kw: object):
    with db.uow() as uow:
        return chat_record(
            uow,
            account_id,
            reader=chat_reader(account_id, OA),
            exclusions=kw.pop("exclusions", Exclusions()),
            now=kw.pop("now", NOW),
            **kw,
        )


@pytest.fixture
def record(db, world):
    """The patient's three visits imported, the departments' HIS codes set, the account linked and agreeing."""
    add_hospital(db)  # "other", facility 88888
    with db.uow() as uow:
        uow.session.execute(update(Department).where(Department.slug == "nhi").values(his_codes="K02;K14"))
        uow.session.execute(update(Department).where(Department.slug == "mat").values(his_codes="K19"))
        uow.commit()
    visits = {
        "outpatient": import_visit(db, outpatient()),
        "psychiatric": import_visit(db, psychiatric()),
        "other": import_visit(db, at_other(), facility="88888"),
    }
    link(db, world.account_id, person_of(db, visits["outpatient"]))
    return visits


def test_the_default_is_the_latest_visit_and_every_visit_at_both_hospitals_is_listed_labelled(db, world, record):
    shown = ask(db, world.account_id)

    assert shown.visit.ref.visit_id == record["other"], "the latest visit (20/11) by default"
    assert (shown.visit.ref.facility_name, shown.visit.ref.hospital_slug) == ("Bệnh viện Khác", "other")
    assert shown.visit.ref.day == dt.date(2026, 11, 20)
    assert [(o.visit_id, o.facility_name, o.day) for o in shown.others] == [
        (record["outpatient"], "Bệnh viện Thử nghiệm", dt.date(2026, 11, 2)),
        (record["psychiatric"], "Bệnh viện Thử nghiệm", dt.date(2026, 10, 10)),
    ]
    assert shown.total_visits == 3
    assert shown.person.full_name == "Nguyễn Văn An" and shown.person.relation == "self"
    assert shown.masked_ids == ("CCCD ********2345", "Thẻ BHYT ***********5678")
    assert not any(CCCD in text for text in shown.masked_ids)


def test_a_visit_shows_its_diagnoses_drugs_results_with_units_ranges_abnormal_marks_imaging_and_advice(
    db, world, record
):
    summary = ask(db, world.account_id, visit_id=record["outpatient"]).visit

    assert summary.ref.facility_name == "Bệnh viện Thử nghiệm" and summary.ref.departments == ("Nhi",)
    assert [(d.code, d.name_vi, d.principal) for d in summary.diagnoses] == [
        ("J06.9", "Viêm họng cấp", True),
        ("E11.9", "Đái tháo đường type 2", False),
    ]
    assert [(x.name, x.strength, x.dose, x.instructions, x.quantity, x.unit, x.days) for x in summary.medications] == [
        ("Paracetamol", "500mg", "1 viên/lần * 2 lần/ngày * 5 ngày [2 viên/ngày]", "Uống sau ăn", "10", "Viên", 5),
        ("Amoxicilin", "500mg", "1 viên/lần * 3 lần/ngày * 7 ngày [3 viên/ngày]", "Uống sau ăn", "21", "Viên", 7),
    ]
    lab = {line.name: line for line in summary.lab}
    assert set(lab) == {"Số lượng bạch cầu (WBC)", "Số lượng hồng cầu (RBC)", "Tốc độ máu lắng", "Glucose"}
    wbc, rbc, glucose = lab["Số lượng bạch cầu (WBC)"], lab["Số lượng hồng cầu (RBC)"], lab["Glucose"]
    assert (wbc.value, wbc.unit, wbc.reference_range, wbc.abnormal) == ("12.5", "G/L", "4 - 10", True)
    assert (rbc.value, rbc.unit, rbc.reference_range, rbc.abnormal) == ("4.6", "T/L", "3.8 - 5.5", False)
    assert (glucose.value, glucose.unit, glucose.abnormal) == ("5.2", "mmol/L", False)
    assert lab["Tốc độ máu lắng"].value == "Âm tính" and lab["Tốc độ máu lắng"].abnormal is None
    [xray] = summary.imaging
    assert xray.name == "Chụp X-quang ngực thẳng" and xray.conclusion == "Tim phổi bình thường"
    assert xray.description == "Hai phế trường sáng, không thấy tổn thương nhu mô."
    assert summary.advice == "Uống thuốc đúng giờ, tái khám sau 1 tuần [nếu sốt cao]"
    assert summary.re_exam == dt.date(2026, 11, 9)
    assert not summary.withheld


def test_the_hiv_test_line_is_withheld_and_counted_the_rest_of_the_visit_shown(db, world, record):
    summary = ask(db, world.account_id, visit_id=record["outpatient"]).visit

    assert summary.withheld_lines == 1
    assert not any("HIV" in line.name for line in (*summary.lab, *summary.imaging))
    assert len(summary.lab) == 4, "the other tests of the visit are shown"


def test_a_psychiatric_visit_is_withheld_whole_even_its_departments(db, world, record):
    shown = ask(db, world.account_id, on_day=dt.date(2026, 10, 10))

    summary = shown.visit
    assert summary.ref.visit_id == record["psychiatric"] and summary.withheld
    assert (summary.diagnoses, summary.medications, summary.lab, summary.imaging, summary.advice) == (
        (),
        (),
        (),
        (),
        "",
    )
    assert summary.ref.departments == (), "a department name (Mắt here, a psychiatric ward in life) tells too"
    assert summary.ref.facility_name == "Bệnh viện Thử nghiệm" and summary.ref.day == dt.date(2026, 10, 10)
    listed = ask(db, world.account_id).others
    assert next(o for o in listed if o.visit_id == record["psychiatric"]).departments == ()


def test_a_hospitals_own_exclusion_applies_to_its_visits_whichever_oa_shows_them(db, world, record):
    from types import SimpleNamespace

    from core.emr.exclusions import exclusions_for

    settings = SimpleNamespace(emr_chat_exclusions={"other": {"icd10": ["I10"]}})
    rules = exclusions_for(settings, "test")  # the OA of hospital "test"
    assert ask(db, world.account_id, visit_id=record["other"], exclusions=rules).visit.withheld
    assert not ask(db, world.account_id, visit_id=record["outpatient"], exclusions=rules).visit.withheld


def test_a_day_or_a_hospital_chooses_the_visit_and_nothing_there_says_so(db, world, record):
    assert ask(db, world.account_id, hospital_slug="test").visit.ref.visit_id == record["outpatient"]
    assert ask(db, world.account_id, on_day=dt.date(2026, 11, 20)).visit.ref.visit_id == record["other"]
    with pytest.raises(NoVisitFound) as nothing:
        ask(db, world.account_id, on_day=dt.date(2026, 11, 3))
    assert "03/11/2026" in nothing.value.message_vi


def test_the_re_exam_section_is_the_latest_visit_with_a_re_exam_date(db, world, record):
    shown = ask(db, world.account_id, section="tai_kham")

    assert shown.section == "tai_kham"
    assert shown.visit.ref.visit_id == record["outpatient"], "the latest visit (at 88888) has no re-exam date"
    assert shown.visit.re_exam == dt.date(2026, 11, 9)


def test_an_inpatient_slip_xml14_gives_the_re_exam_date(db, world, record):
    stay = his.inpatient(
        name="Nguyễn Văn An",
        cccd=CCCD,
        birth="198503140000",
        sex="1",
        arrived="202611250700",
        admitted="202611250830",
        discharged="202611291000",
        xml14={"NGAY_HEN_KL": "20261219"},
    )
    visit_id = import_visit(db, stay)
    assert person_of(db, visit_id) == person_of(db, record["outpatient"])

    summary = ask(db, world.account_id, section="tai_kham").visit
    assert summary.ref.visit_id == visit_id and summary.re_exam == dt.date(2026, 12, 19)
    assert [x.name for x in summary.medications] == ["Ceftriaxone"]
    assert summary.ref.departments == ("Mắt", "Nhi"), "K19, then K02 of its services; K03 is no department's"


def test_the_read_is_audited_as_a_chat_read_of_the_person(db, world, record):
    ask(db, world.account_id)

    [row] = [r for r in audit_rows(db) if r.record_kind == "emr_person"]
    assert (row.actor_kind, row.account_id, row.channel, row.purpose, row.outcome) == (
        "zalo_user",
        world.account_id,
        "zalo",
        "record_summary_chat",
        "read",
    )
    assert row.record_id == str(person_of(db, record["outpatient"]))


def test_a_forged_visit_id_of_someone_else_is_refused_and_audited_and_nothing_is_read(db, world, record):
    stranger = import_visit(db, his.inpatient())  # Trần Thị Bích, another person

    with pytest.raises(VisitNotInRecord) as refused:
        ask(db, world.account_id, visit_id=stranger)
    assert "không có trong hồ sơ" in refused.value.message_vi
    rows = audit_rows(db)
    assert [(r.record_kind, r.record_id, r.outcome) for r in rows] == [("emr_visit", str(stranger), "refused")]
    assert rows[0].detail == "refused=visit_not_in_record"
    with pytest.raises(VisitNotInRecord):
        ask(db, world.account_id, visit_id=999999)


def test_an_old_button_of_a_corrected_visit_opens_its_current_version(db, world, record):
    corrected = import_visit(db, outpatient(advice="Uống thuốc đúng giờ, tái khám sau 10 ngày"))
    assert corrected != record["outpatient"]

    summary = ask(db, world.account_id, visit_id=record["outpatient"]).visit
    assert summary.ref.visit_id == corrected and summary.advice == "Uống thuốc đúng giờ, tái khám sau 10 ngày"


def test_without_a_link_or_consent_nothing_is_read_and_the_refusal_is_audited(db, world, record):
    from core.booking import patients
    from core.emr.consent import NoConsent

    with db.uow() as uow:
        stranger = patients.get_or_create_account(uow, "zalo", f"{OA}:u-2")
    with pytest.raises(NotLinked):
        ask(db, stranger)
    with pytest.raises(NotLinked):
        ask(db, stranger, person_id=person_of(db, record["outpatient"]))
    with db.uow() as uow:
        consent.withdraw(uow, world.account_id, channel="zalo", now=NOW)
    with pytest.raises(NoConsent):
        ask(db, world.account_id)
    rows = audit_rows(db)
    assert [r.outcome for r in rows] == ["refused"] * 3
    assert not any(r.outcome == "read" for r in rows)


def test_merged_persons_read_as_one_record(db, world, record):
    twin = import_visit(db, his.inpatient(name="Nguyễn Văn An", birth="198503140000", sex="1", cccd="079085099999"))
    gone, kept = person_of(db, twin), person_of(db, record["outpatient"])
    assert gone != kept
    with db.uow() as uow:
        uow.session.execute(update(m.Person).where(m.Person.id == gone).values(merged_into_id=kept))
        uow.commit()

    shown = ask(db, world.account_id, visit_id=twin)
    assert shown.visit.ref.visit_id == twin and shown.total_visits == 4
    assert shown.person.person_id == kept


def test_an_account_linked_to_several_persons_is_asked_whose_record(db, world, record):
    child = import_visit(db, his.child())
    link(db, world.account_id, person_of(db, child), relation="guardian")

    with pytest.raises(ChoosePerson) as which:
        ask(db, world.account_id)
    assert [x.relation for x in which.value.links] == ["self", "guardian"]
    shown = ask(db, world.account_id, person_id=which.value.links[1].person_id)
    assert shown.visit.ref.visit_id == child and shown.person.given_name == "Khôi"


def test_a_fifty_visit_record_is_read_in_as_many_queries_as_a_two_visit_one(db, world):
    def visits(n: int, person: str, cccd: str) -> list[his.Visit]:
        return [
            outpatient(
                ma_lk=f"{person}-{i:03d}", name=person, cccd=cccd, arrived=f"2026{1 + i % 11:02d}{1 + i % 28:02d}0730"
            )
            for i in range(n)
        ]

    small = import_bytes(db, his.submission_bytes(visits(2, "Lê Văn Hai", "079085000002")), channel="cli", now=NOW)
    big = import_bytes(db, his.submission_bytes(visits(50, "Lê Văn Năm", "079085000050")), channel="cli", now=NOW)
    from core.booking import patients

    with db.uow() as uow:
        small_account = patients.get_or_create_account(uow, "zalo", f"{OA}:u-small")
        big_account = patients.get_or_create_account(uow, "zalo", f"{OA}:u-big")
    link(db, small_account, person_of(db, small.items[0].visit_id))
    link(db, big_account, person_of(db, big.items[0].visit_id))

    with counted(db) as few:
        assert ask(db, small_account).total_visits == 2
    with counted(db) as many:
        shown = ask(db, big_account)
    assert shown.total_visits == 50 and len(shown.others) == 9
    assert len(many) == len(few), "no query per visit"
    assert len(many) <= 30, many


def test_the_chat_reads_one_visit_in_full_and_its_audit_row_says_exactly_that(db, world, record):
    shown = ask(db, world.account_id, section="don_thuoc")
    shots = ask(db, world.account_id, section="tiem_chung")

    first, second = [r for r in audit_rows(db) if r.record_kind == "emr_person"]
    listed = [shown.visit.ref.visit_id, *(o.visit_id for o in shown.others)]
    assert first.detail == f"headers={','.join(map(str, listed))};visit={record['other']};immunizations=not_read"
    assert second.detail == f"headers={','.join(map(str, listed))};visit=;immunizations={len(shots.vaccines)}"
    assert shots.visit is None and shown.vaccines == (), "the immunizations are read only when they are asked for"


def test_the_chat_read_holds_the_other_visits_headers_only(db, world, record):
    person, reader = person_of(db, record["outpatient"]), chat_reader(world.account_id, OA)
    with db.uow() as uow:
        whole = reading.person_record(uow, person, reader=reader, purpose="record_summary_chat")
        stored, chosen = reading.visit_read(
            uow, person, lambda headers: headers.visit_ids[0], immunizations=False, reader=reader, purpose="x"
        )
    assert chosen == record["other"] == stored.visit_ids[0] == whole.visit_ids[0]
    assert stored.record.visits[0] == whole.record.visits[0], "the chosen visit in full"
    index = stored.visit_ids.index(record["outpatient"])
    full, header = whole.record.visits[index], stored.record.visits[index]
    assert full.medications and header.medications == (), "another visit: no prescription read"
    assert header.diagnoses == full.diagnoses and header.departments == full.departments
