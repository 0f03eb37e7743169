"""Emergencies, hand-off to staff, what the assistant does not understand, greetings."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot.zalo_webhook import conversations
from core.booking import catalogue
from core.booking.views import HospitalView
from core.timeutil import utcnow

from .context import Chat, database
from .replies import MAIN_MENU

FALLBACKS_BEFORE_STAFF = 2


def _hospitals_of(chat: Chat, tracker: Tracker) -> list[HospitalView]:
    """The hospital the conversation is about, or every hospital when the OA serves several."""
    with database().reader() as uow:
        slug = chat.hospital(uow, tracker)
        return [catalogue.get_hospital(uow, slug)] if slug else catalogue.list_hospitals(uow)


class Emergency(Action):
    """The first answer to an emergency is where to call, at once; staff see the conversation flagged."""

    def name(self) -> str:
        return "action_emergency"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        chat = Chat.of(tracker)
        hospitals = _hospitals_of(chat, tracker)
        numbers = "; ".join(f"{h.name}: {h.emergency_phone}" for h in hospitals[:3] if h.emergency_phone)
        dispatcher.utter_message(
            text="Dạ, đây là tình huống khẩn cấp: anh/chị GỌI NGAY 115 để được cấp cứu"
            + (f", hoặc gọi cấp cứu của bệnh viện ({numbers})" if numbers else "")
            + ". Không tự lái xe nếu người bệnh lơ mơ, khó thở hoặc đau ngực dữ dội. "
            "Em đã báo nhân viên bệnh viện theo dõi tin nhắn này ạ.",
        )
        with database().uow() as uow:
            conversation = conversations.get_or_create(uow, chat.oa_id, chat.user_id)
            conversations.flag_for_staff(conversation, "emergency: " + (tracker.latest_message.get("text") or "")[:150])
            uow.commit()
        return []


def hand_to_staff(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Human mode until staff hand the conversation back: the bot pauses (ConversationPaused) and the
    channel stops asking it (the conversation's mode); the conversation waits in the staff queue."""
    chat = Chat.of(tracker)
    with database().uow() as uow:
        conversation = conversations.get_or_create(uow, chat.oa_id, chat.user_id)
        conversations.to_human(conversation, reason, utcnow())
        conversations.flag_for_staff(conversation, reason)
        uow.commit()
    dispatcher.utter_message(
        text="Dạ, em đã chuyển cuộc trò chuyện tới nhân viên bệnh viện. Nhân viên sẽ trả lời anh/chị sớm nhất "
        "trong giờ làm việc. Khi cần cấp cứu, anh/chị gọi ngay 115 ạ."
    )
    return [ConversationPaused()]


class Handoff(Action):
    def name(self) -> str:
        return "action_handoff"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return hand_to_staff(dispatcher, tracker, "the user asked for staff")


def _fallbacks_in_a_row(tracker: Tracker) -> int:
    """How many of the latest user messages in a row the assistant could not understand (this one included)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") != "user":
            continue
        name = ((event.get("parse_data") or {}).get("intent") or {}).get("name")
        if name not in {"nlu_fallback", None}:
            break
        count += 1
    return count


class DefaultFallback(Action):
    """Low confidence: never a guess that books or cancels; a polite answer and the menu, then staff."""

    def name(self) -> str:
        return "action_default_fallback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if _fallbacks_in_a_row(tracker) >= FALLBACKS_BEFORE_STAFF:
            return hand_to_staff(dispatcher, tracker, "the assistant did not understand twice in a row")
        dispatcher.utter_message(
            text="Dạ, em chưa hiểu ý anh/chị. Anh/chị nói rõ hơn hoặc chọn một việc bên dưới giúp em ạ.",
            buttons=MAIN_MENU,
        )
        return []


class OutOfScope(Action):
    def name(self) -> str:
        return "action_out_of_scope"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(
            text="Dạ, em là trợ lý của bệnh viện nên chỉ hỗ trợ được việc khám chữa bệnh: đặt, đổi, hủy lịch khám, "
            "giờ làm việc, chi phí, BHYT ạ. Anh/chị cần em giúp việc nào ạ?",
            buttons=MAIN_MENU,
        )
        return []


class Greet(Action):
    def name(self) -> str:
        return "action_greet"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        hospitals = _hospitals_of(Chat.of(tracker), tracker)
        who = hospitals[0].name if len(hospitals) == 1 else "bệnh viện"
        dispatcher.utter_message(
            text=f"Dạ, em chào anh/chị. Em là trợ lý tự động của {who}. Em có thể giúp gì cho anh/chị ạ?",
            buttons=MAIN_MENU,
        )
        return []
