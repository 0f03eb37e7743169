"""The patient's own appointments by chat: look them up, cancel one, move one."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from core.booking import appointments, slots
from core.booking.codes import normalise_booking_code
from core.booking.views import AppointmentView
from core.booking.vocabulary import AppointmentStatus
from core.errors import DomainError
from core.uow import UnitOfWork
from core.wording import when_vi

from .booking import read_slot_choice, read_when
from .context import CHANNEL, Chat, database, entity, intent
from .forms import ChatForm, Submit
from .replies import (
    MAIN_MENU,
    MAX_BUTTONS,
    appointment_details,
    appointment_line,
    appointment_title,
    button,
    confirm_buttons,
)

CANCEL_SLOTS = ("booking_code", "confirmed", "form_notice")
RESCHEDULE_SLOTS = (
    "booking_code",
    "hospital",
    "department",
    "visit_date",
    "part_of_day",
    "visit_time",
    "appointment_slot",
    "confirmed",
    "form_notice",
)
NONE_UPCOMING = "Dạ, anh/chị chưa có lịch hẹn nào sắp tới ạ."


def upcoming(uow: UnitOfWork, chat: Chat) -> list[AppointmentView]:
    """The upcoming appointments of every profile the user manages, soonest first."""
    return appointments.account_upcoming(uow, chat.account_id(uow))


def own_appointment(uow: UnitOfWork, chat: Chat, code: str) -> AppointmentView:
    """The user's appointment by code (NotFound for another user's: the same answer as for no appointment)."""
    return appointments.get_appointment(uow, code, chat.account_id(uow))


def read_code(tracker: Tracker) -> str | None:
    raw = entity(tracker, "booking_code")
    return normalise_booking_code(str(raw)) if raw else None


class ChangeForm(ChatForm):
    """What cancelling and moving share: pick one of the user's upcoming appointments, then confirm."""

    stopped_text = "Dạ, lịch hẹn của anh/chị vẫn giữ nguyên ạ."

    def pick(
        self, uow: UnitOfWork, chat: Chat, tracker: Tracker, values: dict[str, Any], dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        code = read_code(tracker)
        if not code or code == values.get("booking_code"):
            return {}
        appointment = own_appointment(uow, chat, code)
        if appointment.status != AppointmentStatus.BOOKED:
            dispatcher.utter_message(text=f"Dạ, lịch hẹn {code} không còn hiệu lực nên không thay đổi được ạ.")
            return {}
        return {"booking_code": code, "confirmed": None, **self.picked(appointment)}

    def picked(self, appointment: AppointmentView) -> dict[str, Any]:
        return {}


class ValidateCancelForm(ChangeForm):
    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "validate_cancel_form"

    def required(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> list[str]:
        return ["booking_code", "confirmed"]

    def understand(
        self, uow: UnitOfWork, chat: Chat, tracker: Tracker, values: dict[str, Any], dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        updates = self.pick(uow, chat, tracker, values, dispatcher)
        if not updates and values.get("requested_slot") == "confirmed" and intent(tracker) == "affirm":
            updates["confirmed"] = True
        return updates


class ValidateRescheduleForm(ChangeForm):
    form_slots = RESCHEDULE_SLOTS

    def name(self) -> str:
        return "validate_reschedule_form"

    def required(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> list[str]:
        return ["booking_code", "appointment_slot", "confirmed"]

    def picked(self, appointment: AppointmentView) -> dict[str, Any]:
        return {"hospital": appointment.hospital, "department": appointment.department, "appointment_slot": None}

    def understand(
        self, uow: UnitOfWork, chat: Chat, tracker: Tracker, values: dict[str, Any], dispatcher: CollectingDispatcher
    ) -> dict[str, Any]:
        updates = self.pick(uow, chat, tracker, values, dispatcher)
        if values.get("booking_code") or updates.get("booking_code"):
            updates.update(read_when(tracker))
            updates.update(read_slot_choice(tracker))
        if not updates and values.get("requested_slot") == "confirmed" and intent(tracker) == "affirm":
            updates["confirmed"] = True
        return updates


class AskBookingCode(Action):
    def name(self) -> str:
        return "action_ask_booking_code"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        what = "đổi" if tracker.active_loop_name == "reschedule_form" else "hủy"
        with database().uow() as uow:
            found = upcoming(uow, Chat.of(tracker))
        lines = [f"Dạ, anh/chị muốn {what} lịch hẹn nào ạ?", *(appointment_line(a) for a in found[:MAX_BUTTONS])]
        intent_name = "reschedule_appointment" if what == "đổi" else "cancel_appointment"
        buttons = [button(appointment_title(a), intent_name, booking_code=a.code) for a in found[: MAX_BUTTONS - 1]]
        buttons.append(button("Không, giữ nguyên", "deny"))
        dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
        return []


class StartChange(Action):
    """Before cancelling or moving: clear the last attempt, and say so at once when there is nothing to change."""

    def name(self) -> str:
        return "action_start_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        events: list[EventType] = [SlotSet(slot, None) for slot in RESCHEDULE_SLOTS]
        with database().uow() as uow:
            found = upcoming(uow, Chat.of(tracker))
        if not found and not read_code(tracker):
            dispatcher.utter_message(text=NONE_UPCOMING, buttons=MAIN_MENU[:1])
            events.append(FollowupAction("action_listen"))
        return events


def ask_confirm_cancel(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    with database().uow() as uow:
        appointment = own_appointment(uow, Chat.of(tracker), tracker.get_slot("booking_code"))
    dispatcher.utter_message(
        text=f"Dạ, anh/chị xác nhận hủy lịch hẹn này ạ?\n{appointment_details(appointment)}",
        buttons=[button("Xác nhận hủy", "affirm"), button("Không hủy", "deny")],
    )
    return []


def ask_confirm_reschedule(dispatcher: CollectingDispatcher, tracker: Tracker) -> list[EventType]:
    with database().uow() as uow:
        appointment = own_appointment(uow, Chat.of(tracker), tracker.get_slot("booking_code"))
        new = slots.get_slot(uow, int(tracker.get_slot("appointment_slot")))
    dispatcher.utter_message(
        text=(
            f"Dạ, anh/chị xác nhận đổi lịch hẹn {appointment.code} (khoa {appointment.department_name}):\n"
            f"từ {when_vi(appointment.start)}\n"
            f"sang {when_vi(new.start)} ạ?"
        ),
        buttons=confirm_buttons("Xác nhận đổi", "Không đổi nữa"),
    )
    return []


class SubmitCancel(Submit):
    form_slots = CANCEL_SLOTS

    def name(self) -> str:
        return "action_submit_cancel"

    def submit(self, uow: UnitOfWork, chat: Chat, tracker: Tracker) -> AppointmentView:
        code = tracker.get_slot("booking_code")
        by_patient = {"by": "patient", "reason": "hủy qua Zalo"}
        return appointments.cancel(uow, code, **by_patient, channel=CHANNEL, account_id=chat.account_id(uow))

    def done(self, view: AppointmentView) -> dict[str, Any]:
        return {
            "text": f"Dạ, em đã hủy lịch hẹn {view.code} ({view.department_name}, {when_vi(view.start)}). "
            "Khi cần, anh/chị đặt lịch mới với em nhé.",
            "buttons": MAIN_MENU[:1],
        }


class SubmitReschedule(Submit):
    form_slots = RESCHEDULE_SLOTS
    retry_form = "reschedule_form"

    def name(self) -> str:
        return "action_submit_reschedule"

    def submit(self, uow: UnitOfWork, chat: Chat, tracker: Tracker) -> AppointmentView:
        new_slot = int(tracker.get_slot("appointment_slot"))
        code = tracker.get_slot("booking_code")
        return appointments.reschedule(uow, code, new_slot, channel=CHANNEL, account_id=chat.account_id(uow))

    def done(self, view: AppointmentView) -> dict[str, Any]:
        return {"text": "Dạ, em đã đổi lịch thành công ạ.\n" + appointment_details(view)}


class CheckAppointments(Action):
    def name(self) -> str:
        return "action_check_appointments"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        code = read_code(tracker)
        try:
            with database().uow() as uow:
                found = [own_appointment(uow, chat, code)] if code else upcoming(uow, chat)
        except DomainError as error:
            dispatcher.utter_message(text=error.message_vi, buttons=MAIN_MENU[:2])
            return []
        if not found:
            dispatcher.utter_message(text=NONE_UPCOMING, buttons=MAIN_MENU[:1])
        elif len(found) == 1:
            a = found[0]
            options = []
            if a.status == AppointmentStatus.BOOKED:
                options = [
                    button("Đổi lịch", "reschedule_appointment", booking_code=a.code),
                    button("Hủy lịch", "cancel_appointment", booking_code=a.code),
                ]
            dispatcher.utter_message(text=f"Dạ, lịch hẹn của anh/chị:\n{appointment_details(a)}", buttons=options)
        else:
            lines = ["Dạ, anh/chị có các lịch hẹn sắp tới:", *(appointment_line(a) for a in found)]
            dispatcher.utter_message(
                text="\n".join(lines) + "\nAnh/chị bấm vào một lịch để xem chi tiết ạ.",
                buttons=[
                    button(appointment_title(a), "check_appointment", booking_code=a.code) for a in found[:MAX_BUTTONS]
                ],
            )
        return []
