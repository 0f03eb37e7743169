"""The common frame of the assistant's forms: interruptions, stopping, and what to ask next.

Rasa runs a form's validator after every user message while the form is active. Here the validator:
- leaves interruptions (emergency, asking for staff, a question about the hospital) to the rules, by
  filling nothing, so the form is rejected for this turn and comes back afterwards;
- stops the form when the patient says they no longer want to go on ("thôi không đặt nữa");
- otherwise reads the message (``understand``), and always names the next slot to ask for, so what is
  asked depends on what is already known (a second profile question only for a new profile…).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import REQUESTED_SLOT, FormValidationAction
from rasa_sdk.types import DomainDict

from core.booking.views import AppointmentView
from core.errors import DomainError
from core.uow import UnitOfWork

from .context import Chat, database, intent, text
from .parsing import wants_another_day
from .replies import MAIN_MENU

# Answered by a rule while the form waits (bot/rules.yml), then the form asks its question again.
INTERRUPTIONS = frozenset(
    {"emergency", "request_human", "ask_opening_hours", "ask_address", "ask_cost", "ask_insurance", "ask_documents"}
)
NOT_UNDERSTOOD = "Dạ, em chưa hiểu ý anh/chị ạ. Anh/chị chọn giúp em một trong các lựa chọn bên dưới nhé."


class ChatForm(FormValidationAction):
    form_slots: tuple[str, ...] = ()  # every slot the form fills: all are cleared when it stops
    stop_intents: frozenset[str] = frozenset({"deny", "goodbye"})
    stopped_text = "Dạ, em đã dừng lại theo ý anh/chị. Anh/chị cần gì thêm cứ nhắn em ạ."

    @abstractmethod
    def name(self) -> str: ...

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        values: dict[str, Any] = dict(tracker.slots)
        activating = not (tracker.active_loop or {}).get("name")
        with database().uow() as uow:
            if intent(tracker) in INTERRUPTIONS:
                return [SlotSet(REQUESTED_SLOT, self.next_slot(uow, chat, values))]
            if not activating and self.stops(tracker, values):
                dispatcher.utter_message(text=self.stopped_text, buttons=MAIN_MENU)
                return [SlotSet(slot, None) for slot in self.form_slots] + [SlotSet(REQUESTED_SLOT, None)]
            try:
                updates = self.understand(uow, chat, tracker, values, dispatcher)
            except DomainError as error:  # a refusal of a core service, worded for the patient
                dispatcher.utter_message(text=error.message_vi)
                updates = {}
            uow.commit()
            values.update(updates)
            following = self.next_slot(uow, chat, values)
        if not updates and not activating and not dispatcher.messages:
            dispatcher.utter_message(text=NOT_UNDERSTOOD)
        if not updates and not activating:
            # A slot must change or Rasa rejects the form for this turn; the counter is that change.
            updates = {"form_notice": int(tracker.get_slot("form_notice") or 0) + 1}
        return [SlotSet(key, value) for key, value in updates.items()] + [SlotSet(REQUESTED_SLOT, following)]

    @abstractmethod
    def understand(
        self,
        uow: UnitOfWork,
        chat: Chat,
        tracker: Tracker,
        values: dict[str, Any],
        dispatcher: CollectingDispatcher,
    ) -> dict[str, Any]:
        """The slot changes the latest message asks for (may tell the patient why a value is refused)."""

    def stops(self, tracker: Tracker, values: dict[str, Any]) -> bool:
        """Whether the patient asks to stop. "ngày khác" (another day) may read as a no: it asks for other
        times and does not stop."""
        return intent(tracker) in self.stop_intents and not wants_another_day(text(tracker))

    @abstractmethod
    def required(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> list[str]:
        """The slots the form needs, in the order it asks for them, given what is known."""

    def next_slot(self, uow: UnitOfWork, chat: Chat, values: dict[str, Any]) -> str | None:
        return next((slot for slot in self.required(uow, chat, values) if values.get(slot) is None), None)


class Submit(Action):
    """The end of a form: changes an appointment only on the patient's explicit yes (``confirmed``).

    A refusal of the core services (the slot was just taken, the cut-off passed) is told to the patient; when
    ``retry_form`` is set the form asks for another time instead of ending.
    """

    form_slots: tuple[str, ...] = ()
    retry_form: str | None = None

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def submit(self, uow: UnitOfWork, chat: Chat, tracker: Tracker) -> AppointmentView:
        """Carry out the confirmed change through the core services (they commit)."""

    @abstractmethod
    def done(self, view: AppointmentView) -> dict[str, Any]:
        """The message telling the patient what was done (``utter_message`` arguments)."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("confirmed") is not True:
            return []  # the form was stopped: it has already said so
        try:
            with database().uow() as uow:
                view = self.submit(uow, Chat.of(tracker), tracker)
        except DomainError as error:
            if self.retry_form is None:
                dispatcher.utter_message(text=error.message_vi, buttons=MAIN_MENU)
                return [SlotSet(slot, None) for slot in self.form_slots]
            dispatcher.utter_message(text=f"{error.message_vi} Anh/chị chọn giờ khác giúp em ạ.")
            return [SlotSet("appointment_slot", None), SlotSet("confirmed", None), FollowupAction(self.retry_form)]
        dispatcher.utter_message(**self.done(view))
        return [SlotSet(slot, None) for slot in self.form_slots]
