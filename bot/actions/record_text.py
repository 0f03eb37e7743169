"""How the assistant words a record summary for the patient (Vietnamese, polite register).

Pure: a ``core.emr.summaries.ChatRecord`` in, the messages to send out (``utter_message`` arguments). It says
only what the record holds, in the doctor's words: no interpretation, no advice beyond what the doctor wrote.
The whole answer (the summary by parts, the reminder that it is a summary, the menu) is one message when it fits
in Zalo's 2,000 characters; a longer one is split on lines, never inside a line, with the buttons on the last part
(each message the outbox sends costs the channel a send: one answer, one message where it can).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

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
from core.timeutil import to_local
from core.wording import day_vi

from .replies import MAX_BUTTONS, STAFF_BUTTON, button

MESSAGE_CHARS = 2000  # Zalo's limit of a text message: a longer answer is split on lines
ABNORMAL = "(bất thường)"
SEE_DOCTOR = "Dạ, phần này anh/chị vui lòng trao đổi trực tiếp với bác sĩ ạ."
WITHHELD_LINES = "anh/chị vui lòng trao đổi trực tiếp với bác sĩ về các kết quả này ạ."
DISCLAIMER = (
    "Đây là bản tóm tắt, không phải bệnh án có chữ ký của bệnh viện. Bản đầy đủ: anh/chị liên hệ quầy hồ sơ "
    "bệnh án của bệnh viện, hoặc xem Sổ sức khỏe điện tử trên ứng dụng VNeID. Em chỉ chép lại những gì bác sĩ "
    "đã ghi, không giải thích thêm: anh/chị hỏi bác sĩ hoặc nhân viên nếu chưa rõ ạ."
)
SECTION_NAMES = {
    "chan_doan": "chẩn đoán",
    "don_thuoc": "đơn thuốc",
    "xet_nghiem": "kết quả xét nghiệm",
    "chan_doan_hinh_anh": "kết quả chẩn đoán hình ảnh",
    "tiem_chung": "lịch sử tiêm chủng",
    "tai_kham": "ngày tái khám",
}
RECORD_INTENT = "ask_record_summary"
RESULTS_QUESTION = (
    "Anh/chị có muốn em nhắn khi có kết quả lần khám mới không ạ? Tin nhắn chỉ báo kết quả đã có, không ghi "
    "nội dung; anh/chị bấm vào tin nhắn để xem ạ."
)


def date_vi(day: dt.date | None) -> str:
    return f"{day:%d/%m/%Y}" if day else "(không rõ ngày)"


def whose(person: Linked) -> str:
    """ "của anh/chị" for one's own record, "của bé Na" for a child's, else the person's name."""
    if person.relation == "self":
        return "của anh/chị"
    return f"của bé {person.given_name}" if person.is_child else f"của {person.full_name}"


def visit_label(ref: VisitRef) -> str:
    """ "ngày 02/11/2026 tại Bệnh viện A (khoa Nội)"."""
    label = f"ngày {date_vi(ref.day)} tại {ref.facility_name or ref.facility_code}"
    if ref.departments:
        label += f" (khoa {', '.join(ref.departments)})"
    return label


def visit_title(ref: VisitRef) -> str:
    """A short button title for a visit: "02/11/2026 – Bệnh viện A"."""
    return f"{date_vi(ref.day)} – {ref.facility_name or ref.facility_code}"


def diagnosis_line(d: DiagnosisLine) -> str:
    code = f" ({d.code})" if d.code else ""
    return f"- {d.name_vi or d.code}{code}" + (" – bệnh chính" if d.principal else "")


def medication_line(m: MedicationLine) -> str:
    name = " ".join(part for part in (m.name, m.strength) if part)
    how = "; ".join(part for part in (m.dose, m.instructions) if part)
    amount = " ".join(part for part in (m.quantity, m.unit.lower() if m.unit else "") if part)
    line = f"- {name}" + (f": {how}" if how else "")
    extras = [amount] if amount else []
    if m.days:
        extras.append(f"{m.days} ngày")
    return line + (f" ({', '.join(extras)})" if extras else "")


def result_line(r: ResultLine) -> str:
    value = " ".join(part for part in (r.value, r.unit) if part)
    line = f"- {r.name}" + (f": {value}" if value else "")
    if r.reference_range and value:
        line += f" (tham chiếu {r.reference_range})"
    if r.conclusion:
        line += f"{'.' if value else ':'} Kết luận: {r.conclusion}"
    if r.abnormal:
        line += f" {ABNORMAL}"
    return line


def imaging_line(r: ResultLine) -> str:
    """The report's findings as written, then its conclusion."""
    findings = r.description or r.value
    said = " ".join(part for part in (findings, f"Kết luận: {r.conclusion}." if r.conclusion else "") if part)
    return f"- {r.name}: {said}" if said else f"- {r.name}"


def vaccine_line(v: VaccineLine) -> str:
    dose = f", mũi {v.dose_number}" if v.dose_number else ""
    return f"- {v.name}{dose}: {date_vi(v.day)}"


def split_lines(lines: Sequence[str], limit: int = MESSAGE_CHARS) -> list[str]:
    """Lines joined into messages of at most ``limit`` characters (a line is never cut: the outbox splits a
    line longer than Zalo's limit on its sentences)."""
    parts: list[str] = []
    current: list[str] = []
    for line in lines:
        if current and len("\n".join([*current, line])) > limit:
            parts.append("\n".join(current))
            current = []
        current.append(line)
    if current:
        parts.append("\n".join(current))
    return parts


def _section(title: str, lines: Iterable[str], empty: str) -> list[str]:
    found = list(lines)
    return [f"{title}:", *found] if found else [empty]


def _diagnoses(visit: VisitSummary) -> list[str]:
    return _section("Chẩn đoán", map(diagnosis_line, visit.diagnoses), "Lần khám này không ghi chẩn đoán ạ.")


def _medications(visit: VisitSummary) -> list[str]:
    return _section("Đơn thuốc", map(medication_line, visit.medications), "Lần khám này không có đơn thuốc ạ.")


def _lab(visit: VisitSummary) -> list[str]:
    return _section("Kết quả xét nghiệm", map(result_line, visit.lab), "Lần khám này không có kết quả xét nghiệm ạ.")


def _imaging(visit: VisitSummary) -> list[str]:
    return _section(
        "Chẩn đoán hình ảnh", map(imaging_line, visit.imaging), "Lần khám này không có kết quả chẩn đoán hình ảnh ạ."
    )


def _re_exam(visit: VisitSummary) -> list[str]:
    if visit.re_exam is None:
        return ["Lần khám này bác sĩ không hẹn ngày tái khám ạ."]
    return [f"Ngày tái khám: {day_vi(visit.re_exam)}."]


def _advice(visit: VisitSummary) -> list[str]:
    return [f"Lời dặn của bác sĩ: {visit.advice}"] if visit.advice else []


def _visit_parts(visit: VisitSummary, section: str | None) -> list[list[str]]:
    """The parts of a visit's summary, each a list of lines: the whole visit, or the section asked."""
    if visit.withheld:  # an excluded diagnosis: nothing clinical in chat; the re-exam date still helps
        return [[SEE_DOCTOR], *([_re_exam(visit)] if section in (None, "tai_kham") and visit.re_exam else [])]
    by_section = {
        "chan_doan": [_diagnoses(visit)],
        "don_thuoc": [_medications(visit)],
        "xet_nghiem": [_lab(visit)],
        "chan_doan_hinh_anh": [_imaging(visit)],
        "tai_kham": [_re_exam(visit)],
    }
    if section in by_section:
        parts = by_section[section]
    else:
        parts = [_diagnoses(visit), _medications(visit)]
        if visit.lab:
            parts.append(_lab(visit))
        if visit.imaging:
            parts.append(_imaging(visit))
        parts.append(_advice(visit) + _re_exam(visit))
    if visit.withheld_lines and section in (None, "xet_nghiem", "chan_doan_hinh_anh"):
        parts.append([f"Có {visit.withheld_lines} kết quả không gửi qua Zalo: {WITHHELD_LINES}"])
    return parts


def heading(record: ChatRecord) -> str:
    person, section, visit = record.person, record.section, record.visit
    if section == "tiem_chung":
        return f"Dạ, đây là {SECTION_NAMES[section]} {whose(person)} ({person.full_name}) em tìm thấy trong hồ sơ:"
    if visit is None:
        return f"Dạ, hồ sơ {whose(person)} ({person.full_name}) chưa có lần khám nào trên hệ thống ạ."
    what = SECTION_NAMES.get(section or "", "tóm tắt lần khám")
    return f"Dạ, đây là {what} {whose(person)} ({person.full_name}), lần khám {visit_label(visit.ref)}:"


def summary_messages(record: ChatRecord, *, offer_results: bool = False) -> list[dict[str, Any]]:
    """The whole answer to a summary request: the heading, the summary by parts, the reminder that it is a
    summary, then one menu (the channel takes the buttons of the last message only): the consent to result
    notifications when ``offer_results``, the other visits, and the staff button. One message when it fits in
    ``MESSAGE_CHARS``; else split on lines, the buttons on the last part."""
    head = [heading(record), *([f"Mã định danh: {', '.join(record.masked_ids)}"] if record.masked_ids else [])]
    if record.section == "tiem_chung":
        parts = [_section("Các mũi đã tiêm", map(vaccine_line, record.vaccines), "Hồ sơ chưa ghi mũi tiêm nào ạ.")]
    elif record.visit is not None:
        parts = _visit_parts(record.visit, record.section)
    else:
        parts = []
    if parts:
        parts[0] = head + parts[0]
    else:
        parts = [head]
    choice = menu(record, offer_results)
    parts += [[DISCLAIMER], choice["text"].splitlines()]
    lines: list[str] = []
    for part in filter(None, parts):
        lines += ([""] if lines else []) + part  # a blank line between the parts
    texts = [text.strip("\n") for text in split_lines(lines)]
    return [*({"text": text} for text in texts[:-1]), {"text": texts[-1], "buttons": choice["buttons"]}]


def menu(record: ChatRecord, offer_results: bool) -> dict[str, Any]:
    """The end of the answer: the result-notification question (once, after the first consent), the other
    visits of the person, newest first (the section asked is kept), and the staff button; no text and the
    staff button alone when there is nothing to choose."""
    lines: list[str] = []
    buttons: list[dict[str, str]] = []
    if offer_results:
        lines.append(RESULTS_QUESTION)
        buttons += [
            button("Nhận thông báo kết quả", RECORD_INTENT, record_route="results_yes"),
            button("Không nhận thông báo", RECORD_INTENT, record_route="results_no"),
        ]
    section = {"record_section": record.section} if record.section else {}
    person = {"record_person": str(record.person.person_id)}
    shown = record.others[: MAX_BUTTONS - 1 - len(buttons)]
    buttons += [
        button(visit_title(ref), RECORD_INTENT, record_visit=str(ref.visit_id), **person, **section) for ref in shown
    ]
    if record.others:
        more = max(record.total_visits - 1, len(record.others)) - len(shown)
        lines.append("Anh/chị bấm để xem lần khám khác ạ.")
        if more > 0:
            lines.append(f'Còn {more} lần khám khác: anh/chị nhắn ngày khám, ví dụ "lần khám ngày 12/11" ạ.')
    return {"text": "\n".join(lines), "buttons": [*buttons, STAFF_BUTTON]}


def choose_person(links: Sequence[Linked], section: str | None) -> dict[str, Any]:
    """Several linked persons and none named: whose record to show."""
    extra = {"record_section": section} if section else {}
    buttons = [
        button(person_title(link), RECORD_INTENT, record_person=str(link.person_id), **extra)
        for link in links[:MAX_BUTTONS]
    ]
    return {"text": "Dạ, anh/chị muốn xem hồ sơ của ai ạ?", "buttons": buttons}


def person_title(link: Linked) -> str:
    if link.relation == "self":
        return f"{link.full_name} (bản thân)"
    return f"Bé {link.full_name}" if link.is_child else link.full_name


def linked_text(links: Sequence[Linked]) -> str:
    """What the user is now linked to, after the code was right."""
    names = ", ".join(person_title(link) for link in links)
    return f"Dạ, em đã xác nhận số điện thoại. Anh/chị đã liên kết hồ sơ: {names} ạ."


OUTCOMES = {"read": "đã xem", "refused": "bị từ chối"}
MAX_ACCESS_LINES = 20


def access_text(lines: Sequence[Any]) -> str:
    """The reads of a record of the last 90 days (``core.emr.access_log.AccessLine``), newest first."""
    if not lines:
        return "Dạ, trong 90 ngày qua chưa có ai xem hồ sơ này ạ."
    shown = [
        f"- {to_local(line.at):%H:%M %d/%m/%Y}: {line.who} ({OUTCOMES.get(line.outcome, line.outcome)})"
        for line in lines[:MAX_ACCESS_LINES]
    ]
    more = len(lines) - len(shown)
    tail = [f"… và {more} lượt cũ hơn. Anh/chị cần danh sách đầy đủ, vui lòng liên hệ bệnh viện ạ."] if more > 0 else []
    return "\n".join(["Dạ, đây là các lượt xem hồ sơ trong 90 ngày qua ạ:", *shown, *tail])
