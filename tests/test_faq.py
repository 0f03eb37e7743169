"""FAQ answers: what a patient reads when asking hours, address, cost, insurance or documents."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from core import wording
from core.booking import faq
from core.booking.demo import load_demo
from core.booking.faq import HospitalFaq
from core.booking.models import Closure, Department, Doctor, Hospital, Schedule
from core.errors import InvalidInput, NotFound
from tests.factories import add_department, add_faq

TODAY = dt.date(2026, 12, 7)  # a Monday
WEEKDAYS_MORNING = tuple((d, "morning", "07:00", "11:00") for d in range(5))
WEEKDAYS_AFTERNOON = tuple((d, "afternoon", "13:30", "16:30") for d in range(5))


pytestmark = pytest.mark.world(days=1)


def ask(db, topic: str, department: str | None = None, hospital: str = "test", **kw) -> str:
    with db.reader() as uow:
        return faq.answer(uow, hospital, topic, department, **kw)


def test_department_hours_are_its_weekly_schedule(db, world):
    add_department(
        db,
        "tim_mach",
        "Tim mạch",
        # Monday morning is split between two rooms; the patient sees one session.
        sessions=(
            (0, "morning", "07:00", "09:00"),
            (0, "morning", "09:00", "11:00"),
            *WEEKDAYS_MORNING[1:],
            *WEEKDAYS_AFTERNOON,
            (5, "morning", "07:00", "11:00"),
            (6, "morning", "08:00", "10:00"),
        ),
    )
    with db.uow() as uow:  # the Sunday session was stopped: it is no longer announced
        uow.session.execute(
            update(Schedule).where(Schedule.weekday == 6, Schedule.start_time == dt.time(8, 0)).values(active=False)
        )
        uow.commit()

    text = ask(db, "hours", "tim_mach", today=TODAY)

    assert text.splitlines()[0] == (
        "Dạ, khoa Tim mạch của Bệnh viện Thử nghiệm khám: thứ Hai–thứ Sáu sáng 7:00–11:00, chiều 13:30–16:30; "
        "thứ Bảy sáng 7:00–11:00; Chủ nhật nghỉ."
    )
    assert "02900000115" in text and "115" in text  # emergencies: 115 and the hospital's emergency number
    assert "7:00–16:30" not in text  # the hospital's general hours are not the department's


def test_days_with_different_sessions_are_grouped_readably(db, world):
    add_department(
        db,
        "mat_2",
        "Mắt",
        sessions=(
            (0, "morning", "07:30", "11:00"),
            (2, "morning", "07:30", "11:00"),
            (1, "afternoon", "13:00", "17:00"),
        ),
    )
    assert ask(db, "hours", "mat_2", today=TODAY).splitlines()[0] == (
        "Dạ, khoa Mắt của Bệnh viện Thử nghiệm khám: thứ Hai, thứ Tư sáng 7:30–11:00; thứ Ba chiều 13:00–17:00; "
        "thứ Năm–Chủ nhật nghỉ."
    )


def test_department_without_sessions_gives_the_phone(db, world):
    add_department(db, "ung_buou", "Ung bướu")
    text = ask(db, "hours", "ung_buou", today=TODAY)
    assert text.startswith("Dạ, khoa Ung bướu của Bệnh viện Thử nghiệm hiện chưa có lịch khám cố định")
    assert "02900000000" in text


def test_hospital_hours_and_the_closures_ahead(db, world):
    with db.uow() as uow:
        hospital_id = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "test"))
        nhi = uow.session.scalar(select(Department.id).where(Department.slug == "nhi"))
        mat = uow.session.scalar(select(Department.id).where(Department.slug == "mat"))
        doctor = Doctor(hospital_id=hospital_id, department_id=nhi, full_name="BS Thử")
        uow.session.add(doctor)
        uow.session.flush()

        def closed(first: str, last: str, reason: str, department: int | None = None, doctor: int | None = None):
            return Closure(
                hospital_id=hospital_id,
                department_id=department,
                doctor_id=doctor,
                start_date=dt.date.fromisoformat(first),
                end_date=dt.date.fromisoformat(last),
                reason=reason,
            )

        uow.session.add_all(
            [
                closed("2026-12-31", "2027-01-01", "Tết Dương lịch"),
                closed("2026-12-10", "2026-12-10", "tập huấn", nhi),
                closed("2026-12-11", "2026-12-11", "bảo trì máy", mat),
                closed("2026-12-09", "2026-12-09", "bác sĩ nghỉ phép", nhi, doctor.id),
                closed("2026-12-01", "2026-12-02", "đã qua"),
                closed("2027-02-10", "2027-02-20", "Tết Nguyên đán"),  # beyond the next 30 days
            ]
        )
        uow.commit()

    hospital = ask(db, "hours", today=TODAY)
    assert hospital.startswith("Dạ, giờ khám của Bệnh viện Thử nghiệm: 7:00–16:30.")
    assert "Lưu ý lịch nghỉ sắp tới: từ 31/12/2026 đến 01/01/2027 (Tết Dương lịch)." in hospital
    assert "tập huấn" not in hospital  # a department's closure is the department's

    nhi_hours = ask(db, "hours", "nhi", today=TODAY)
    assert "ngày 10/12/2026 (tập huấn); từ 31/12/2026 đến 01/01/2027 (Tết Dương lịch)" in nhi_hours
    for absent in ("bác sĩ nghỉ phép", "bảo trì máy", "đã qua", "Tết Nguyên đán"):
        assert absent not in nhi_hours


def test_address_of_the_hospital_and_of_a_department(db, world):
    hospital = ask(db, "address")
    assert hospital.splitlines() == [
        "Dạ, Bệnh viện Thử nghiệm ở địa chỉ: 1 Đường Thử.",
        "Điện thoại liên hệ: 02900000000.",
    ]
    department = ask(db, "address", "nhi")
    assert department.startswith("Dạ, khoa Nhi ở Khu A (Phòng Nhi), tại Bệnh viện Thử nghiệm, địa chỉ: 1 Đường Thử.")

    add_department(db, "mat_moi", "Mắt", location="")
    assert ask(db, "address", "mat_moi").startswith("Dạ, khoa Mắt thuộc Bệnh viện Thử nghiệm, địa chỉ: 1 Đường Thử.")

    add_faq(db, "address", "Gửi xe ở cổng số 2.")
    assert "Gửi xe ở cổng số 2." in ask(db, "address", "nhi")


def test_cost_lists_the_visit_types_with_prices_in_dong(db, world):
    text = ask(db, "cost")
    lines = text.splitlines()
    assert lines[0] == "Dạ, giá khám tại Bệnh viện Thử nghiệm:"
    assert "- Khám dịch vụ: 150.000 đ" in lines
    assert "- Khám BHYT: được quỹ BHYT chi trả theo quy định (theo mức hưởng ghi trên thẻ)" in lines
    assert "cùng chi trả" in lines[-1] and "02900000000" in lines[-1]  # no co-payment entry: the phone

    add_faq(db, "cost", "Phần cùng chi trả BHYT đóng tại quầy thu ngân số 3")
    with_entry = ask(db, "cost", "nhi")
    assert with_entry.startswith("Dạ, giá khám tại khoa Nhi của Bệnh viện Thử nghiệm:")
    assert with_entry.splitlines()[-1] == "Phần cùng chi trả BHYT đóng tại quầy thu ngân số 3."


@pytest.mark.parametrize(
    ("amount", "shown"), [(0, "0 đ"), (39_000, "39.000 đ"), (150_000, "150.000 đ"), (1_250_000, "1.250.000 đ")]
)
def test_vnd_format(amount, shown):
    assert wording.vnd(amount) == shown


def test_missing_insurance_entry_says_so_and_gives_the_phone(db, world):
    text = ask(db, "insurance")
    assert text == (
        "Dạ, Bệnh viện Thử nghiệm chưa cập nhật thông tin về bảo hiểm y tế (BHYT). "
        "Anh/chị vui lòng gọi 02900000000 để được nhân viên hướng dẫn ạ."
    )
    assert "khoa Nhi" in ask(db, "insurance", "nhi") and "02900000000" in ask(db, "insurance", "nhi")


def test_insurance_answer_is_the_hospitals_entry_then_the_departments(db, world):
    add_faq(db, "insurance", "Khám đúng tuyến được hưởng theo mức ghi trên thẻ.")
    add_faq(db, "insurance", "Trẻ dưới 6 tuổi dùng giấy khai sinh.", department="nhi")

    assert ask(db, "insurance").splitlines() == [
        "Dạ, về bảo hiểm y tế (BHYT) tại Bệnh viện Thử nghiệm:",
        "Khám đúng tuyến được hưởng theo mức ghi trên thẻ.",
    ]
    assert ask(db, "insurance", "nhi").splitlines() == [
        "Dạ, về bảo hiểm y tế (BHYT) tại khoa Nhi của Bệnh viện Thử nghiệm:",
        "Khám đúng tuyến được hưởng theo mức ghi trên thẻ.",
        "Riêng khoa Nhi: trẻ dưới 6 tuổi dùng giấy khai sinh.",
    ]
    assert "giấy khai sinh" not in ask(db, "insurance", "mat")


def test_documents_use_the_entry_and_what_the_department_asks_to_bring(db, world):
    add_department(db, "noi_tiet", "Nội tiết", what_to_bring="Sổ theo dõi đường huyết; nhịn ăn sáng")
    only_department = ask(db, "documents", "noi_tiet")
    assert only_department.splitlines() == [
        "Dạ, giấy tờ cần mang khi đi khám tại khoa Nội tiết của Bệnh viện Thử nghiệm:",
        "Khi khám khoa Nội tiết, anh/chị mang theo: sổ theo dõi đường huyết; nhịn ăn sáng.",
    ]
    assert "chưa cập nhật" in ask(db, "documents") and "02900000000" in ask(db, "documents")

    add_faq(db, "documents", "CCCD hoặc VNeID, thẻ BHYT; nhịn ăn 8 tiếng nếu xét nghiệm máu.")
    both = ask(db, "documents", "noi_tiet").splitlines()
    assert both[1] == "CCCD hoặc VNeID, thẻ BHYT; nhịn ăn 8 tiếng nếu xét nghiệm máu."
    assert both[2].startswith("Khi khám khoa Nội tiết")


def test_every_answer_starts_politely_and_names_the_hospital(db, world):
    for topic in faq.TOPICS:
        for department in (None, "nhi"):
            text = ask(db, topic, department, today=TODAY)
            assert text.startswith("Dạ,"), (topic, department)
            assert "Bệnh viện Thử nghiệm" in text.splitlines()[0], (topic, department)
            if department:
                assert "khoa Nhi" in text.splitlines()[0], (topic, department)


def test_refusals(db, world):
    with pytest.raises(InvalidInput):
        ask(db, "parking")
    with pytest.raises(NotFound) as unknown_hospital:
        ask(db, "hours", hospital="khong-co")
    assert unknown_hospital.value.message_vi.startswith("Dạ,")
    with pytest.raises(NotFound):
        ask(db, "address", "khong_co_khoa")


def test_one_hospital_wide_entry_per_topic(db, world):
    add_faq(db, "insurance", "Một.")
    add_faq(db, "insurance", "Của khoa Nhi.", department="nhi")
    with pytest.raises(IntegrityError):
        add_faq(db, "insurance", "Hai.")
    with pytest.raises(IntegrityError):
        add_faq(db, "insurance", "Lại của khoa Nhi.", department="nhi")


def test_demo_hospitals_answer_insurance_and_documents_and_reloading_adds_missing_entries(db):
    with db.uow() as uow:
        load_demo(uow, slot_days=1)
    with db.reader() as uow:
        entries = uow.session.scalar(select(func.count()).select_from(HospitalFaq))
    for slug in ("bvdk-tinh-demo", "bv-san-nhi-demo", "ttyt-nam-can-demo"):
        insurance = ask(db, "insurance", hospital=slug)
        assert "(DEMO)" in insurance.splitlines()[0] and "BHYT" in insurance and "chưa cập nhật" not in insurance
        documents = ask(db, "documents", "nhi", hospital=slug)
        assert "CCCD" in documents and "VNeID" in documents and "nhịn ăn" in documents
    assert "thông tuyến" in ask(db, "insurance", hospital="ttyt-nam-can-demo")
    assert "Riêng khoa Nhi" in ask(db, "insurance", "nhi", hospital="bv-san-nhi-demo")

    # Hospitals loaded before FAQ entries existed get them; an entry the hospital edited is kept.
    with db.uow() as uow:
        demo = uow.session.scalar(select(Hospital.id).where(Hospital.slug == "bvdk-tinh-demo"))
        uow.session.execute(delete(HospitalFaq).where(HospitalFaq.topic == "documents"))
        uow.session.execute(
            update(HospitalFaq)
            .where(HospitalFaq.hospital_id == demo, HospitalFaq.topic == "insurance")
            .values(answer="Bệnh viện đã sửa câu trả lời này.")
        )
        uow.commit()
    with db.uow() as uow:
        assert load_demo(uow, slot_days=1) == {"hospitals_created": 0, "slots_created": 0}
    with db.reader() as uow:
        assert uow.session.scalar(select(func.count()).select_from(HospitalFaq)) == entries
    assert "Bệnh viện đã sửa câu trả lời này." in ask(db, "insurance", hospital="bvdk-tinh-demo")
    assert "VNeID" in ask(db, "documents", hospital="bvdk-tinh-demo")
