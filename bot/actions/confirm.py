"""The confirmation question of every form: what will change, shown before anything changes."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from .booking import ask_confirm_booking
from .changes import ask_confirm_cancel, ask_confirm_reschedule

SUMMARIES = {
    "booking_form": ask_confirm_booking,
    "cancel_form": ask_confirm_cancel,
    "reschedule_form": ask_confirm_reschedule,
}


class AskConfirmed(Action):
    def name(self) -> str:
        return "action_ask_confirmed"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return SUMMARIES[tracker.active_loop_name or "booking_form"](dispatcher, tracker)
