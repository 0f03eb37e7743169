"""Booking by chat: the form's validator, its questions, and the booking itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.nlu.departments import fold
from bot.nlu.record_subject import record_subject
from bot.nlu.vi_datetime import BirthDate, parse_birth_date
from bot.zalo_webhook import conversations
from core.booking import appointments, catalogue, patients, services, slots
from core.booking.views import AppointmentView, PatientView, SlotOffer
from core.booking.vocabulary import Relationship
from core.errors import NotFound
from core.identifiers import national_phone
from core.timeutil import local_today
from core.uow import UnitOfWork
from core.wording import day_vi, part_of_day_vi, relation_vi, vnd, when_vi

from . import parsing
from .context import CHANNEL, Chat, chat_caps, database, entity, entity_span, intent, text
from .forms import ChatForm, Submit
from .replies import (
    MAIN_MENU,
    MAX_BUTTONS,
    STAFF_BUTTON,
    appointment_details,
    button,
    confirm_buttons,
    slot_title,
)
from .symptoms import suggest_department

NEW_PROFILES = {"new_self": Relationship.SELF.value, "new_other": Relationship.OTHER.value}
BOOKING_SLOTS = (
    "hospital",
    "department",
    "visit_date",
    "part_of_day",
    "visit_time",
    "appointment_slot",
    "patient_id",
    "patient_relation",
    "new_name",
    "new_dob",
    "new_sex",
    "phone",
    "visit_type",
    "confirmed",
    "form_notice",
)
FREE_TEXT_SLOTS = ("new_name", "new_dob", "new_sex", "phone")
POPULAR_DEPARTMENTS = ("kham_tong_quat", "noi_tong_hop", "nhi", "san_phu_khoa", "tim_mach", "mat", "rang_ham_mat")


def birth_date_reask(found: BirthDate) -> str:
    """The question again, saying what is missing or wrong in the birth date given."""
    if found.problem in ("no_day", "year_only"):
        return (
            f"Dạ, em đã ghi nhận năm sinh {found.year}. Anh/chị cho em xin thêm ngày và tháng sinh, "
            f"ví dụ 15/08/{found.year} ạ."
        )
    if found.problem == "no_year":
        return "Dạ, anh/chị cho em xin thêm năm sinh, nhắn theo dạng ngày/tháng/năm, ví dụ 15/08/1985 ạ."
    if found.problem == "future":
        return "Dạ, ngày sinh chưa đúng vì là ngày trong tương lai. Anh/chị kiểm tra lại giúp em, ví dụ 15/08/1985 ạ."
    return "Dạ, ngày sinh chưa đúng. Anh/chị nhắn theo dạng ngày/tháng/năm, ví dụ 15/08/1985 ạ."


def read_when(tracker: Tracker) -> dict[str, Any]:
    """The date, part of day and time the latest message names (the ``time`` entity of vi_datetime)."""
    value = entity(tracker, "time")
    if not isinstance(value, dict):
        return {}
    part = value.get("part_of_day")
    return {
        "visit_date": value.get("date"),
        "part_of_day": part if part in {"morning", "afternoon", "evening"} else None,
        "visit_time": value.get("time"),
        "appointment_slot": None,
        "confirmed": None,
    }


def read_slot_choice(tracker: Tracker) -> dict[str, Any]:
    chosen = entity(tracker, "slot_id")
    if chosen is not None and str(chosen).isdigit():
        return {"appointment_slot": int(chosen), "confirmed": None}
    if entity(tracker, "change") in {"date", "slot"} or parsing.wants_another_day(text(tracker)):
        return {
            "visit_date": None,
            "part_of_day": None,
            "visit_time": None,
            "appointment_slot": None,
            "confirmed": None,
        }
    return {}


class ValidateBookingForm(ChatForm):
    form_slots = BOOKING_SLOTS
    stop_intents = frozenset({"deny", "goodbye", "cancel_appointment"})
    stopped_text = "Dạ, em đã dừng đặt lịch, chưa có lịch hẹn nào được tạo. Anh/chị cần gì thêm cứ nhắn em ạ."

    def name(self) -> str:
        return "validate_booking_form"

    def stops(self, tracker: Tracker, values: dict[str, Any]) -> bool:
        """A name, a birth date or a phone answering the question is an answer, whatever intent the NLU gives
        it ("Phạm Quốc Huy" may read as a no)."""
        if values.get("requested_slot") in FREE_TEXT_SLOTS and self._free_answer(
            values["requested_slot"], tracker, CollectingDispatcher()
        ):
            return False
        return super().stops(tracker, values)

    def required(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> list[str]:
        needed = [] if chat.oa_hospital(uow) else ["hospital"]
        needed += ["department", "appointment_slot", "patient_id"]
        if values.get("patient_id") in NEW_PROFILES:
            needed += ["new_name", "new_dob", "new_sex", "phone"]
        return [*needed, "visit_type", "confirmed"]

    def understand(
        self,
        uow: UnitOfWork,
        chat: Chat,
        tracker: Tracker,
        values: dict[str, Any],
        dispatcher: CollectingDispatcher,
    ) -> dict[str, Any]:
        updates: dict[str, Any] = {}
        own = chat.oa_hospital(uow)
        if own and values.get("hospital") != own:
            updates["hospital"] = own
        asked = values.get("requested_slot")
        if asked in FREE_TEXT_SLOTS and entity(tracker, "sex") is None and entity(tracker, "phone_number") is None:
            answer = self._free_answer(asked, tracker, dispatcher)
            if answer:
                return {**updates, **answer}
            if dispatcher.messages:
                return updates
        updates.update(self._hospital(uow, own, tracker, values, dispatcher))
        hospital = updates.get("hospital") or values.get("hospital")
        updates.update(self._department(uow, hospital, tracker, values, dispatcher))
        updates.update(read_when(tracker))
        updates.update(read_slot_choice(tracker))
        updates.update(self._patient(uow, chat, tracker, values))
        if "patient_id" not in updates:
            updates.update(self._relation(uow, chat, tracker, values, dispatcher))
        if entity(tracker, "sex") in {"male", "female"}:
            updates["new_sex"] = entity(tracker, "sex")
        shared = entity(tracker, "phone_number")
        if shared and parsing.phone(str(shared)):
            updates["phone"] = parsing.phone(str(shared))
        if hospital:
            codes = [v.code for v in catalogue.list_visit_types(uow, hospital)]
            chosen = entity(tracker, "visit_type")
            if chosen not in codes:
                chosen = parsing.visit_type(text(tracker), codes) if asked == "visit_type" else None
            if chosen:
                updates["visit_type"] = chosen
        if asked == "confirmed" and intent(tracker) == "affirm" and not updates:
            updates["confirmed"] = True
        return updates

    def _free_answer(self, asked: str, tracker: Tracker, dispatcher: CollectingDispatcher) -> dict[str, Any]:
        message = text(tracker)
        if asked == "new_name":
            name = entity(tracker, "person_name") or parsing.person_name(message)
            name = parsing.person_name(str(name)) if name else None
            if name is None:
                dispatcher.utter_message(text="Dạ, anh/chị nhắn giúp em họ và tên đầy đủ (chỉ gồm chữ) ạ.")
            return {"new_name": name} if name else {}
        if asked == "new_dob":
            born = parse_birth_date(message, local_today())
            if born.date is None:
                dispatcher.utter_message(text=birth_date_reask(born))
                return {}
            return {"new_dob": born.date.isoformat()}
        if asked == "new_sex":
            found = parsing.sex(message)
            return {"new_sex": found} if found else {}
        if asked == "phone":
            found = parsing.phone(message)
            if found is None and any(ch.isdigit() for ch in message):
                dispatcher.utter_message(
                    text="Dạ, số điện thoại chưa đúng. Anh/chị kiểm tra lại số di động 10 chữ số giúp em ạ."
                )
            return {"phone": found} if found else {}
        return {}

    @staticmethod
    def _hospital(
        uow: UnitOfWork, own: str | None, tracker: Tracker, values: dict[str, Any], dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        named = entity(tracker, "hospital")
        if own or not named or named == values.get("hospital"):
            return {}
        try:
            catalogue.find_hospital(uow, named)
        except NotFound as error:
            dispatcher.utter_message(text=error.message_vi)
            return {}
        return {"hospital": named, "department": None, "appointment_slot": None, "confirmed": None}

    @staticmethod
    def _department(
        uow: UnitOfWork,
        hospital: str | None,
        tracker: Tracker,
        values: dict[str, Any],
        dispatcher: CollectingDispatcher,
    ) -> dict[str, Any]:
        named = entity(tracker, "department")  # a slug: the NLU's DepartmentExtractor maps every name
        if hospital:
            named = _hospitals_service(uow, hospital, tracker) or named
        if not named or named == values.get("department"):
            return {}
        if hospital:
            offered = {d.slug: d.name for d in catalogue.list_departments(uow, hospital)}
            if named not in offered:
                name = catalogue.get_hospital(uow, hospital).name
                dispatcher.utter_message(text=f"Dạ, {name} chưa có lịch khám cho khoa này trên hệ thống ạ.")
                return {}
        return {"department": named, "appointment_slot": None, "confirmed": None}

    @staticmethod
    def _patient(uow: UnitOfWork, chat: Chat, tracker: Tracker, values: dict[str, Any]) -> dict[str, Any]:
        if entity(tracker, "change") == "patient":  # "Đổi người khám" under the summary: ask who again
            return {"patient_id": None, "patient_relation": None, **_NEW_PROFILE_CLEARED, "confirmed": None}
        chosen = entity(tracker, "patient_id")
        if chosen is None:
            return {}
        chosen = str(chosen)
        if chosen in NEW_PROFILES:
            found = _shared_phone(uow, chat)
            relation = values.get("patient_relation") if chosen == "new_other" else None
            return {
                "patient_id": chosen,
                **_NEW_PROFILE_CLEARED,
                "new_sex": _sex_of(relation),
                "phone": found,
                "patient_relation": relation,
            }
        if chosen.isdigit():
            patients.find_patient(uow, int(chosen), chat.account_id(uow))  # NotFound for another's profile
            return {"patient_id": chosen}
        return {}

    @staticmethod
    def _relation(
        uow: UnitOfWork, chat: Chat, tracker: Tracker, values: dict[str, Any], dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        """Who the patient says the visit is for ("cho mẹ", "cho bé": the NLU's ``relation`` entity): the one
        profile of the account that fits is picked and said, several are offered (``AskPatient``), none starts
        a new relative's profile that keeps the relation as said."""
        said = entity(tracker, "relation")
        if said not in RELATIONS or (said == values.get("patient_relation") and values.get("patient_id")):
            return {}
        relation = Relationship(said)
        fitting = _fitting_profiles(uow, chat, relation)
        updates: dict[str, Any] = {"patient_relation": said, "confirmed": None}
        named = _named(fitting, text(tracker)) if len(fitting) > 1 else []
        if len(fitting) == 1 or len(named) == 1:
            picked = (named or fitting)[0]
            dispatcher.utter_message(
                text=f"Dạ, em đặt lịch cho {_profile_title(picked)} ạ. Nếu không đúng người, anh/chị bấm "
                '"Đổi người khám" ở bước xác nhận nhé.'
            )
            return {**updates, "patient_id": str(picked.id)}
        if fitting:
            return {**updates, "patient_id": None}
        new = "new_self" if relation == Relationship.SELF else "new_other"
        return {
            **updates,
            "patient_id": new,
            **_NEW_PROFILE_CLEARED,
            "new_sex": _sex_of(said),
            "phone": _shared_phone(uow, chat),
        }


RELATIONS = frozenset(r.value for r in Relationship)
_NEW_PROFILE_CLEARED = {"new_name": None, "new_dob": None, "new_sex": None}


def _sex_of(relation: str | None) -> str | None:
    """The sex a relation says ("mẹ" is a woman), so that the form does not ask it."""
    implied = Relationship(relation).sex if relation in RELATIONS else None
    return implied.value if implied else None


def _fitting_profiles(uow: UnitOfWork, chat: Chat, relation: Relationship) -> list[PatientView]:
    """The account's profiles that can be the relative said (core/booking/vocabulary.py's ``fits``)."""
    return [p for p in patients.list_patients(uow, chat.account_id(uow)) if relation.fits(p.relation, p.sex)]


def _named(profiles: list[PatientView], message: str) -> list[PatientView]:
    """The profiles whose given name the message says of the child ("cho bé Na" → "Lê Thị Na")."""
    name = record_subject(message).name
    if not name:
        return []
    wanted = fold(name).split()
    return [p for p in profiles if fold(p.full_name).split()[-len(wanted) :] == wanted]


def _profile_title(profile: PatientView) -> str:
    """ "Trần Thị Bình (mẹ)": the name and who the profile is to the account's holder."""
    return f"{profile.full_name} ({relation_vi(profile.relation)})"


def _shared_phone(uow: UnitOfWork, chat: Chat) -> str | None:
    """The phone the user already shared with this OA through Zalo's card, if any."""
    conversation = conversations.get_or_create(uow, chat.oa_id, chat.user_id)
    return national_phone(conversation.phone) if conversation.phone else None


def offered_slots(uow: UnitOfWork, values: dict[str, Any]) -> SlotOffer:
    """The slots to offer for what the form holds (core/booking/slots.py chooses them)."""
    return slots.offer_slots(
        uow,
        hospital_slug=values["hospital"],
        department_slug=values["department"],
        day=dt.date.fromisoformat(values["visit_date"]) if values.get("visit_date") else None,
        part_of_day=values.get("part_of_day"),
        wanted=dt.time.fromisoformat(values["visit_time"]) if values.get("visit_time") else None,
        limit=MAX_BUTTONS - 1,
    )


class AskAppointmentSlot(Action):
    def name(self) -> str:
        return "action_ask_appointment_slot"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        values = dict(tracker.slots)
        with database().reader() as uow:
            offer = offered_slots(uow, values)
            department = _department_name(uow, values)
        if not offer.slots:
            dispatcher.utter_message(
                text=f"Dạ, khoa {department} hiện đã hết lịch trống trong thời gian nhận đặt trước. Anh/chị "
                "chọn khoa khác hoặc gặp nhân viên để được hỗ trợ ạ.",
                buttons=[STAFF_BUTTON],
            )
            return []
        asked = ""
        if values.get("visit_date"):
            asked = day_vi(dt.date.fromisoformat(values["visit_date"]))
        if values.get("part_of_day"):
            asked = f"buổi {part_of_day_vi(values['part_of_day'])} {asked}".strip()
        if offer.relaxed:
            lead = f"Dạ, khoa {department} không còn chỗ {asked}. Các giờ trống gần nhất là:"
        else:
            lead = f"Dạ, khoa {department} còn các giờ trống{' ' + asked if asked else ''}:"
        buttons = [button(slot_title(s), "inform", slot_id=str(s.id)) for s in offer.slots]
        buttons.append(button("Ngày khác", "inform", change="date"))
        dispatcher.utter_message(text=f"{lead}\nAnh/chị chọn giờ khám giúp em ạ.", buttons=buttons)
        return []


def _hospitals_service(uow: UnitOfWork, hospital: str, tracker: Tracker) -> str | None:
    """The department this hospital does the service in that the message names (its service catalogue and
    the services of its imported visits, core.booking.services), when the NLU found no department or found
    one in the same words: "siêu âm thai" is booked where this hospital does it. A department the patient
    named in other words ("siêu âm thai ở khoa sản") stays theirs."""
    found = services.department_for_service(uow, hospital, text(tracker))
    if found is None:
        return None
    span = entity_span(tracker, "department")
    if span is None or (span[0] < found.end and found.start < span[1]):
        return found.department
    return None


def _department_name(uow: UnitOfWork, values: dict[str, Any]) -> str:
    found = {d.slug: d.name for d in catalogue.list_departments(uow, values["hospital"])}
    return found.get(values["department"], values["department"])


class AskHospital(Action):
    def name(self) -> str:
        return "action_ask_hospital"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        with database().reader() as uow:
            hospitals = catalogue.list_hospitals(uow)
        dispatcher.utter_message(
            text="Dạ, anh/chị muốn khám ở bệnh viện nào ạ?",
            buttons=[button(h.name, "inform", hospital=h.slug) for h in hospitals[:MAX_BUTTONS]],
        )
        return []


class AskDepartment(Action):
    def name(self) -> str:
        return "action_ask_department"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        with database().reader() as uow:
            departments = {d.slug: d.name for d in catalogue.list_departments(uow, tracker.get_slot("hospital"))}
        said = " ".join(e.get("text") or "" for e in tracker.events[-12:] if e.get("event") == "user")
        suggested = suggest_department(said)
        order = [suggested] if suggested in departments else []
        order += [slug for slug in POPULAR_DEPARTMENTS if slug in departments and slug not in order]
        order += [slug for slug in departments if slug not in order]
        buttons = [button(f"Khoa {departments[slug]}", "inform", department=slug) for slug in order[:MAX_BUTTONS]]
        if suggested in departments:
            lead = (
                f"Dạ, với những gì anh/chị kể, em gợi ý khám khoa {departments[suggested]}. Đây chỉ là gợi ý, "
                "bác sĩ sẽ khám và chỉ định cụ thể ạ."
            )
        else:
            lead = "Dạ, anh/chị muốn khám khoa nào ạ?"
        dispatcher.utter_message(
            text=f"{lead} Anh/chị chọn bên dưới hoặc nhắn tên khoa (ví dụ: tai mũi họng, da liễu) ạ.", buttons=buttons
        )
        return []


class AskPatient(Action):
    def name(self) -> str:
        return "action_ask_patient_id"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        said = tracker.get_slot("patient_relation")
        with database().uow() as uow:
            if said in RELATIONS:  # several profiles fit who the patient named: only those, and a new one
                profiles = _fitting_profiles(uow, chat, Relationship(said))
            else:
                profiles = patients.list_patients(uow, chat.account_id(uow))
        buttons = [button(_profile_title(p), "inform", patient_id=str(p.id)) for p in profiles[: MAX_BUTTONS - 2]]
        if said in RELATIONS and profiles:
            buttons.append(
                button(f"{relation_vi(said).capitalize()} khác (hồ sơ mới)", "inform", patient_id="new_other")
            )
            text = f"Dạ, anh/chị đặt lịch cho {relation_vi(said)} nào ạ?"
        else:
            if not any(p.relation == Relationship.SELF for p in profiles):
                buttons.append(button("Tôi đi khám (hồ sơ mới)", "inform", patient_id="new_self"))
            buttons.append(button("Người thân (hồ sơ mới)", "inform", patient_id="new_other"))
            text = "Dạ, ai là người đi khám ạ?"
        dispatcher.utter_message(text=text, buttons=buttons[:MAX_BUTTONS])
        return []


class AskNewName(Action):
    def name(self) -> str:
        return "action_ask_new_name"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        said = tracker.get_slot("patient_relation")
        who = f"{relation_vi(said)} anh/chị" if said in RELATIONS - {"self", "other"} else "người đi khám"
        dispatcher.utter_message(text=f"Dạ, anh/chị cho em xin họ và tên đầy đủ của {who} ạ (ví dụ: Nguyễn Văn An).")
        return []


class AskNewBirthDate(Action):
    def name(self) -> str:
        return "action_ask_new_dob"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(text="Dạ, người đi khám sinh ngày nào ạ? (ví dụ: 15/08/1985)")
        return []


class AskNewSex(Action):
    def name(self) -> str:
        return "action_ask_new_sex"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            text="Dạ, người đi khám là nam hay nữ ạ?",
            buttons=[button("Nam", "inform", sex="male"), button("Nữ", "inform", sex="female")],
        )
        return []


class AskPhone(Action):
    def name(self) -> str:
        return "action_ask_phone"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            json_message={
                "request_phone": True,
                "text": "Dạ, anh/chị bấm chia sẻ số điện thoại để bệnh viện liên hệ khi cần, hoặc nhắn số di động ạ.",
            }
        )
        return []


class AskVisitType(Action):
    def name(self) -> str:
        return "action_ask_visit_type"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        with database().reader() as uow:
            kinds = catalogue.list_visit_types(uow, tracker.get_slot("hospital"))
        buttons = [
            button(
                v.name if v.kind == "insurance" else f"{v.name} ({vnd(v.price_vnd)})",
                "inform",
                visit_type=v.code,
            )
            for v in kinds[:MAX_BUTTONS]
        ]
        dispatcher.utter_message(text="Dạ, anh/chị khám theo BHYT hay khám dịch vụ ạ?", buttons=buttons)
        return []


def ask_confirm_booking(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    """The booking summary to confirm."""
    chat = Chat.of(tracker)
    values = dict(tracker.slots)
    with database().uow() as uow:
        slot = slots.get_slot(uow, int(values["appointment_slot"]))
        hospital = catalogue.get_hospital(uow, values["hospital"])
        if values["patient_id"] in NEW_PROFILES:
            relation = _new_relation(values)
            who = (
                values["new_name"]
                if relation == Relationship.SELF
                else f"{values['new_name']} ({relation_vi(relation)})"
            )
        else:
            profiles = {str(p.id): _profile_title(p) for p in patients.list_patients(uow, chat.account_id(uow))}
            who = profiles.get(str(values["patient_id"]), "")
        kinds = {v.code: v.name for v in catalogue.list_visit_types(uow, values["hospital"])}
    lines = [
        "Dạ, anh/chị kiểm tra lại thông tin đặt lịch giúp em:",
        f"Người khám: {who}",
        f"Nơi khám: khoa {slot.department_name}, {hospital.name}",
        f"Thời gian: {when_vi(slot.start)}",
        f"Hình thức: {kinds.get(values['visit_type'], values['visit_type'])}",
    ]
    if slot.doctor:
        lines.insert(3, f"Bác sĩ: {slot.doctor}")
    buttons = confirm_buttons("Xác nhận đặt lịch", "Không đặt nữa")
    buttons.insert(2, button("Đổi người khám", "inform", change="patient"))
    dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
    return []


class StartBooking(Action):
    """Clears what an earlier booking left, so a new one starts from the patient's new words only."""

    def name(self) -> str:
        return "action_start_booking"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return [SlotSet(slot, None) for slot in BOOKING_SLOTS]


class SubmitBooking(Submit):
    form_slots = BOOKING_SLOTS
    retry_form = "booking_form"

    def name(self) -> str:
        return "action_submit_booking"

    def submit(self, uow: UnitOfWork, chat: Chat, tracker: Tracker) -> AppointmentView:
        values = dict(tracker.slots)
        account_id = chat.account_id(uow)
        patient_id = _patient_for(uow, account_id, values)
        if values.get("patient_relation"):  # "cho mẹ" for a profile kept as "bố/mẹ": it is the mother
            patients.refine_relation(uow, patient_id, account_id, str(values["patient_relation"]))
        request = appointments.BookingRequest(
            slot_id=int(values["appointment_slot"]),
            patient_id=patient_id,
            channel=CHANNEL,
            account_id=account_id,
            visit_type=values.get("visit_type"),
            idempotency_key=f"{chat.sender_id}:{_form_started(tracker)}",
            place=(str(values["hospital"]), str(values["department"])),  # what the patient confirmed
            caps=chat_caps(),
        )
        return appointments.book(uow, request)[0]

    def done(self, view: AppointmentView) -> dict[str, Any]:
        return {
            "text": "Dạ, em đã đặt lịch thành công ạ.\n"
            + appointment_details(view)
            + "\nAnh/chị đến trước giờ hẹn 15 phút để làm thủ tục nhé.",
            "buttons": MAIN_MENU[:2],
        }


def _patient_for(uow: UnitOfWork, account_id: int, values: dict[str, Any]) -> int:
    chosen = str(values["patient_id"])
    if chosen not in NEW_PROFILES:
        return int(chosen)
    profile, _ = patients.register_patient(
        uow,
        account_id=account_id,
        full_name=values["new_name"],
        date_of_birth=dt.date.fromisoformat(values["new_dob"]),
        sex=values["new_sex"],
        phone=values["phone"],
        relation=_new_relation(values),
        limits=chat_caps(),
    )
    return profile.id


def _new_relation(values: dict[str, Any]) -> str:
    """The relation of the new profile: as the patient said it ("cho mẹ": mother), else self or other."""
    chosen = str(values["patient_id"])
    said = values.get("patient_relation")
    if chosen == "new_other" and said in RELATIONS - {"self"}:
        return said
    return NEW_PROFILES[chosen]


def _form_started(tracker: Tracker) -> str:
    """When this booking form started: with the conversation, it keys the booking against double submits."""
    for event in reversed(tracker.events):
        if event.get("event") == "active_loop" and event.get("name") == "booking_form":
            return str(event.get("timestamp"))
    return "0"
