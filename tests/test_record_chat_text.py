"""The wording of a record summary in chat (bot/actions/record_text.py), from hand-made summaries: what the
patient reads for a whole visit, a section, a withheld visit, several persons and other visits."""

from __future__ import annotations

import datetime as dt
import json

from bot.actions import record_text
from core.emr.access_log import AccessLine
from core.emr.record_access import Linked
from core.emr.summaries import (
    ChatRecord,
    DiagnosisLine,
    MedicationLine,
    ResultLine,
    VaccineLine,
    VisitRef,
    VisitSummary,
)

AN = Linked(1, 10, "self", "Nguyễn Văn An", "An", 1985, False, "otp")
NA = Linked(2, 11, "guardian", "Lê Thị Na", "Na", 2020, True, "otp")
REF = VisitRef(101, "79001", "Bệnh viện Thử nghiệm", "test", dt.date(2026, 11, 2), ("Khám bệnh",))
OLDER = VisitRef(100, "88888", "Bệnh viện Khác", "other", dt.date(2026, 5, 20), ())
VISIT = VisitSummary(
    ref=REF,
    diagnoses=(
        DiagnosisLine("J06.9", "Viêm họng cấp", True),
        DiagnosisLine("E11.9", "Đái tháo đường type 2", False),
    ),
    medications=(MedicationLine("Paracetamol", "500mg", "1 viên/lần * 2 lần/ngày", "Uống sau ăn", "10", "Viên", 5),),
    lab=(
        ResultLine("Số lượng bạch cầu (WBC)", "12.5", "G/L", "4 - 10", True, ""),
        ResultLine("Glucose", "5.2", "mmol/L", "3.9 - 6.4", False, ""),
    ),
    imaging=(ResultLine("Chụp X-quang ngực thẳng", "", "", "", None, "Tim phổi bình thường", "Hai phế trường sáng."),),
    advice="Uống thuốc đúng giờ",
    re_exam=dt.date(2026, 11, 9),
    withheld=False,
    withheld_lines=0,
)


def record(section: str | None = None, visit: VisitSummary | None = VISIT, **changes: object) -> ChatRecord:
    values: dict[str, object] = {
        "person": AN,
        "section": section,
        "visit": visit,
        "others": (),
        "vaccines": (),
        "masked_ids": (),
    }
    values.update(changes)
    return ChatRecord(**values)  # type: ignore[arg-type]


def text(messages: list[dict[str, object]]) -> str:
    return "\n".join(str(m.get("text", "")) for m in messages)


def test_the_latest_visit_whole_names_place_date_diagnoses_drugs_results_advice_and_re_exam() -> None:
    said = text(record_text.summary_messages(record()))
    assert "ngày 02/11/2026 tại Bệnh viện Thử nghiệm (khoa Khám bệnh)" in said
    assert "Viêm họng cấp (J06.9) – bệnh chính" in said and "Đái tháo đường type 2 (E11.9)" in said
    assert "Paracetamol 500mg: 1 viên/lần * 2 lần/ngày; Uống sau ăn (10 viên, 5 ngày)" in said
    assert "Số lượng bạch cầu (WBC): 12.5 G/L (tham chiếu 4 - 10) (bất thường)" in said
    assert "Glucose: 5.2 mmol/L (tham chiếu 3.9 - 6.4)\n" in said + "\n"  # a normal value is not marked
    assert "Chụp X-quang ngực thẳng: Hai phế trường sáng. Kết luận: Tim phổi bình thường." in said
    assert "Lời dặn của bác sĩ: Uống thuốc đúng giờ" in said
    assert "Ngày tái khám: Thứ Hai 09/11/2026" in said


def test_every_answer_ends_with_the_summary_warning_where_to_get_the_record_and_the_staff_button() -> None:
    for section in (None, "don_thuoc", "tai_kham"):
        messages = record_text.summary_messages(record(section))
        last = messages[-1]
        assert "không phải bệnh án có chữ ký" in str(last["text"]) and "VNeID" in str(last["text"])
        assert "hỏi bác sĩ hoặc nhân viên nếu chưa rõ" in str(last["text"])
        assert last["buttons"] == [record_text.STAFF_BUTTON]


def test_a_section_alone_shows_only_that_section() -> None:
    drugs = text(record_text.summary_messages(record("don_thuoc")))
    assert "Paracetamol" in drugs and "Viêm họng" not in drugs and "Glucose" not in drugs
    assert "đơn thuốc của anh/chị" in drugs
    labs = text(record_text.summary_messages(record("xet_nghiem")))
    assert "Glucose" in labs and "Paracetamol" not in labs
    re_exam = text(record_text.summary_messages(record("tai_kham")))
    assert "Thứ Hai 09/11/2026" in re_exam and "Paracetamol" not in re_exam


def test_an_empty_section_says_so_instead_of_an_empty_list() -> None:
    bare = VisitSummary(REF, (), (), (), (), "", None, False, 0)
    assert "không có đơn thuốc" in text(record_text.summary_messages(record("don_thuoc", bare)))
    assert "không hẹn ngày tái khám" in text(record_text.summary_messages(record("tai_kham", bare)))


def test_a_withheld_visit_shows_nothing_clinical_only_see_the_doctor() -> None:
    withheld = VisitSummary(REF, VISIT.diagnoses, VISIT.medications, VISIT.lab, (), "", None, True, 0)
    said = text(record_text.summary_messages(record(None, withheld)))
    assert record_text.SEE_DOCTOR in said
    for clinical in ("J06.9", "Viêm họng", "Paracetamol", "Glucose", "bạch cầu"):
        assert clinical not in said


def test_withheld_result_lines_are_counted_and_sent_to_the_doctor() -> None:
    partly = VisitSummary(REF, (), (), VISIT.lab, (), "", None, False, 1)
    said = text(record_text.summary_messages(record("xet_nghiem", partly)))
    assert "Có 1 kết quả không gửi qua Zalo: " + record_text.WITHHELD_LINES in said


def test_other_visits_are_buttons_carrying_the_visit_the_person_and_the_section() -> None:
    messages = record_text.summary_messages(record("xet_nghiem", others=(OLDER,), total_visits=2))
    choice = messages[-1]
    only, staff = choice["buttons"]  # type: ignore[misc]
    assert staff == record_text.STAFF_BUTTON and "không phải bệnh án có chữ ký" in str(choice["text"])
    assert only["title"] == "20/05/2026 – Bệnh viện Khác"
    intent, _, entities = only["payload"].partition("{")
    assert intent == "/ask_record_summary"
    assert json.loads("{" + entities) == {"record_visit": "100", "record_person": "10", "record_section": "xet_nghiem"}


def test_a_childs_record_is_worded_as_the_childs() -> None:
    said = text(record_text.summary_messages(record("tai_kham", person=NA)))
    assert "ngày tái khám của bé Na (Lê Thị Na)" in said


def test_vaccinations_come_from_the_record_not_a_visit() -> None:
    shots = (
        VaccineLine("Vắc xin sởi", dt.date(2021, 9, 1), "1"),
        VaccineLine("Vắc xin 6 trong 1", dt.date(2020, 7, 1), ""),
    )
    said = text(record_text.summary_messages(record("tiem_chung", None, person=NA, vaccines=shots)))
    assert "Vắc xin sởi, mũi 1: 01/09/2021" in said and "Vắc xin 6 trong 1: 01/07/2020" in said


def test_several_persons_are_offered_as_buttons_keeping_the_section() -> None:
    asked = record_text.choose_person([AN, NA], "don_thuoc")
    titles = [b["title"] for b in asked["buttons"]]
    assert titles == ["Nguyễn Văn An (bản thân)", "Bé Lê Thị Na"]
    assert json.loads(asked["buttons"][1]["payload"].split("summary", 1)[1]) == {
        "record_person": "11",
        "record_section": "don_thuoc",
    }


def test_a_long_part_is_split_on_lines_into_readable_messages() -> None:
    many = tuple(
        MedicationLine(f"Thuốc số {n}", "500mg", "1 viên/lần * 3 lần/ngày", "Uống sau ăn no", "30", "Viên", 10)
        for n in range(40)
    )
    long_visit = VisitSummary(REF, (), many, (), (), "", None, False, 0)
    messages = record_text.summary_messages(record("don_thuoc", long_visit))
    texts = [str(m["text"]) for m in messages]
    assert len(texts) > 1 and all(len(t) <= record_text.MESSAGE_CHARS for t in texts)
    assert all(f"Thuốc số {n} 500mg" in "\n".join(texts) for n in range(40))
    assert not any(t.startswith("500mg") for t in texts)  # never cut inside a line


def test_an_answer_that_fits_is_one_message_summary_warning_and_menu_together() -> None:
    """One send for the channel: the summary, the reminder that it is a summary and the visit buttons."""
    messages = record_text.summary_messages(record(others=(OLDER,), total_visits=2))
    assert len(messages) == 1 and len(str(messages[0]["text"])) <= record_text.MESSAGE_CHARS
    said = str(messages[0]["text"])
    assert said.index("Viêm họng cấp") < said.index("không phải bệnh án có chữ ký") < said.index("lần khám khác")
    assert [b["title"] for b in messages[0]["buttons"]] == ["20/05/2026 – Bệnh viện Khác", "Gặp nhân viên"]  # type: ignore[union-attr]


def test_more_visits_than_buttons_say_how_to_ask_for_the_older_ones() -> None:
    refs = tuple(
        VisitRef(200 + n, "79001", "Bệnh viện Thử nghiệm", "test", dt.date(2026, 1, 1 + n), ()) for n in range(9)
    )
    choice = record_text.summary_messages(record(others=refs, total_visits=12))[-1]
    assert len(choice["buttons"]) == record_text.MAX_BUTTONS  # type: ignore[arg-type]
    assert "Còn 7 lần khám khác" in str(choice["text"]) and "lần khám ngày" in str(choice["text"])


def test_the_result_notification_question_shares_the_last_menu_with_the_visits_and_staff() -> None:
    """The channel takes the buttons of the last message only: one menu of at most five buttons."""
    refs = tuple(
        VisitRef(300 + n, "79001", "Bệnh viện Thử nghiệm", "test", dt.date(2026, 2, 1 + n), ()) for n in range(4)
    )
    messages = record_text.summary_messages(record(others=refs, total_visits=5), offer_results=True)
    assert all("buttons" not in m for m in messages[:-1])
    last = messages[-1]
    payloads = [b["payload"] for b in last["buttons"]]  # type: ignore[union-attr]
    assert len(payloads) == record_text.MAX_BUTTONS
    assert '"record_route": "results_yes"' in payloads[0] and '"record_route": "results_no"' in payloads[1]
    assert payloads[-1] == "/request_human" and sum('"record_visit"' in p for p in payloads) == 2
    assert "nhắn khi có kết quả lần khám mới" in str(last["text"]) and "Còn 2 lần khám khác" in str(last["text"])


def test_the_access_log_lists_who_and_when_in_local_time() -> None:
    at = dt.datetime(2026, 12, 1, 3, 5, tzinfo=dt.UTC)
    lines = [
        AccessLine(at, "Nhân viên Bệnh viện Thử nghiệm", "api", "read", 10),
        AccessLine(at, "Anh/chị qua Zalo", "zalo", "refused", 10),
    ]
    said = record_text.access_text(lines)
    assert "- 10:05 01/12/2026: Nhân viên Bệnh viện Thử nghiệm (đã xem)" in said
    assert "Anh/chị qua Zalo (bị từ chối)" in said
    assert "chưa có ai xem" in record_text.access_text([])
