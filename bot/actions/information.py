"""Questions about the hospital (hours, address, cost, insurance, documents) and health-news subscriptions,
answered from the hospital's own data."""

from __future__ import annotations

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from core.booking import catalogue, faq
from core.errors import DomainError
from core.news import subscriptions

from . import departments
from .context import Chat, database, entity, intent, text
from .replies import MAX_BUTTONS, button

TOPICS = {
    "ask_opening_hours": "hours",
    "ask_address": "address",
    "ask_cost": "cost",
    "ask_insurance": "insurance",
    "ask_documents": "documents",
}


def _ask_which_hospital(dispatcher: CollectingDispatcher, tracker: Tracker, **entities: str) -> list[EventType]:
    with database().reader() as uow:
        hospitals = catalogue.list_hospitals(uow)
    dispatcher.utter_message(
        text="Dạ, anh/chị hỏi về bệnh viện nào ạ?",
        buttons=[button(h.name, intent(tracker), hospital=h.slug, **entities) for h in hospitals[:MAX_BUTTONS]],
    )
    return []


class AnswerFaq(Action):
    def name(self) -> str:
        return "action_answer_faq"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        topic = TOPICS.get(intent(tracker), "hours")
        department = departments.canonical(entity(tracker, "department")) or departments.mentioned(text(tracker))
        chat = Chat.of(tracker)
        with database().reader() as uow:
            hospital = chat.hospital(uow, tracker)
            if hospital is None:
                return _ask_which_hospital(dispatcher, tracker, **({"department": department} if department else {}))
            try:
                answer = faq.answer(uow, hospital, topic, department)
            except DomainError as error:  # e.g. a department this hospital does not have
                answer = error.message_vi + " " + faq.answer(uow, hospital, topic)
        dispatcher.utter_message(text=answer)
        return []


class SubscribeNews(Action):
    def name(self) -> str:
        return "action_subscribe_news"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        topic = entity(tracker, "news_topic")
        chat = Chat.of(tracker)
        with database().uow() as uow:
            hospital = chat.hospital(uow, tracker)
            if hospital is None:
                return _ask_which_hospital(dispatcher, tracker, **({"news_topic": topic} if topic else {}))
            view = subscriptions.subscribe(uow, chat.account_id(uow), hospital, topic)
        name = subscriptions.topic_name(view.topic)
        dispatcher.utter_message(
            text=f"Dạ, em đã đăng ký cho anh/chị nhận tin về {name}. Khi không muốn nhận nữa, anh/chị nhắn "
            '"hủy nhận tin" ạ.',
        )
        return []


class UnsubscribeNews(Action):
    def name(self) -> str:
        return "action_unsubscribe_news"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        topic = entity(tracker, "news_topic")
        chat = Chat.of(tracker)
        with database().uow() as uow:
            hospital = chat.hospital(uow, tracker)
            if hospital is None:
                return _ask_which_hospital(dispatcher, tracker, **({"news_topic": topic} if topic else {}))
            cancelled = subscriptions.unsubscribe(uow, chat.account_id(uow), hospital, topic)
        if cancelled:
            names = ", ".join(subscriptions.topic_name(slug) for slug in cancelled)
            dispatcher.utter_message(text=f"Dạ, em đã hủy nhận tin về {names} cho anh/chị ạ.")
        else:
            dispatcher.utter_message(text="Dạ, anh/chị hiện không đăng ký nhận tin nào ạ.")
        return []
