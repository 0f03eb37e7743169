"""Questions about the hospital (hours, address, cost, insurance, documents) and health-news subscriptions,
answered from the hospital's own data."""

from __future__ import annotations

from abc import abstractmethod

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from core.booking import catalogue, faq
from core.errors import DomainError
from core.news import subscriptions
from core.uow import UnitOfWork

from .context import Chat, database, entity, entity_text, intent
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
        department = entity(tracker, "department")
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


class NewsAction(Action):
    """Subscribing and unsubscribing share the question of which hospital, when the OA serves several."""

    @abstractmethod
    def name(self) -> str: ...

    @abstractmethod
    def change(self, uow: UnitOfWork, account_id: int, hospital: str, topic: str | None) -> str:
        """Make the change; returns what to tell the patient."""

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        topic = entity_text(tracker, "news_topic")
        chat = Chat.of(tracker)
        with database().uow() as uow:
            hospital = chat.hospital(uow, tracker)
            if hospital is None:
                return _ask_which_hospital(dispatcher, tracker, **({"news_topic": topic} if topic else {}))
            dispatcher.utter_message(text=self.change(uow, chat.account_id(uow), hospital, topic))
        return []


class SubscribeNews(NewsAction):
    def name(self) -> str:
        return "action_subscribe_news"

    def change(self, uow: UnitOfWork, account_id: int, hospital: str, topic: str | None) -> str:
        view = subscriptions.subscribe(uow, account_id, hospital, topic)
        return (
            f"Dạ, em đã đăng ký cho anh/chị nhận tin về {view.topic_name}. Khi không muốn nhận nữa, anh/chị nhắn "
            '"hủy nhận tin" ạ.'
        )


class UnsubscribeNews(NewsAction):
    def name(self) -> str:
        return "action_unsubscribe_news"

    def change(self, uow: UnitOfWork, account_id: int, hospital: str, topic: str | None) -> str:
        cancelled = subscriptions.unsubscribe(uow, account_id, hospital, topic)
        if not cancelled:
            return "Dạ, anh/chị hiện không đăng ký nhận tin nào ạ."
        names = ", ".join(subscriptions.topic_name(slug) for slug in cancelled)
        return f"Dạ, em đã hủy nhận tin về {names} cho anh/chị ạ."
