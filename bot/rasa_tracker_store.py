"""Rasa's SQL tracker store (``tracker_store`` in bot/endpoints.yml) that does not rebuild a conversation it
already holds.

Rasa's ``SQLTrackerStore`` reads every event of the conversation's session from the database, decodes their JSON
and replays them into a new tracker at each message, and counts them again to save: the largest cost of a turn
on a Rasa server. Each user's messages go to one Rasa server (the worker's rendezvous hashing), under the
conversation's lock, so the server that answered the last message usually answers the next: this store keeps
the trackers it handed out or saved (the most recent ``cache_size`` conversations) with the id of the newest
event stored for them, and hands the same tracker out again while the database's newest event for that sender is
still that one. Anything else (another server answered meanwhile, the conversation was pruned, a handling failed
after changing the tracker without saving it, a new session began) drops the kept tracker and reads the
conversation as Rasa does. What is stored, and when, is exactly what Rasa's own store writes.

Not a library's: Rasa offers no cache in front of its SQL store (its in-memory store keeps no database copy).
Runs in the Rasa environment.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.constants import ACTION_SESSION_START_NAME
from rasa.shared.core.events import ActionExecuted, SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT_NAME_KEY

log = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_CACHE_SIZE = 1000  # conversations kept per server (a few hundred KB each at most)


@dataclass
class _Kept:
    tracker: DialogueStateTracker
    last_id: int  # the id of the newest event stored for the sender when the tracker was kept
    stored: int  # how many of the tracker's events are stored (all of them, unless it was changed since)


class CachingSQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, cache_size: int | str = DEFAULT_CACHE_SIZE, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cache_size = max(0, int(cache_size))
        self._kept: OrderedDict[str, _Kept] = OrderedDict()

    # Reading ------------------------------------------------------------------------------------------------
    def _last_id(self, session: Any, sender_id: str) -> int | None:
        return session.query(sa.func.max(self.SQLEvent.id)).filter(self.SQLEvent.sender_id == sender_id).scalar()

    async def retrieve(self, sender_id: str) -> DialogueStateTracker | None:
        return await _once_more_after_disconnect(lambda: self._retrieve_kept(sender_id))

    async def save(self, tracker: DialogueStateTracker) -> None:
        await _once_more_after_disconnect(lambda: self._save_kept(tracker))

    async def _retrieve_kept(self, sender_id: str) -> DialogueStateTracker | None:
        with self.session_scope() as session:
            last_id = self._last_id(session, sender_id)
        kept = self._kept.get(sender_id)
        if kept is not None and last_id == kept.last_id and len(kept.tracker.events) == kept.stored:
            self._kept.move_to_end(sender_id)
            return kept.tracker
        self._kept.pop(sender_id, None)
        tracker = await super().retrieve(sender_id)
        if tracker is not None and last_id is not None:
            # Read after ``last_id`` was: an event stored in between makes the next look-up read again.
            self._keep(sender_id, _Kept(tracker, last_id, len(tracker.events)))
        return tracker

    # Writing ------------------------------------------------------------------------------------------------
    async def _save_kept(self, tracker: DialogueStateTracker) -> None:
        await self.stream_events(tracker)
        sender_id = tracker.sender_id
        kept = self._kept.pop(sender_id, None)
        with self.session_scope() as session:
            last_id = self._last_id(session, sender_id)
            if kept is not None and kept.tracker is tracker and last_id == kept.last_id:
                new = list(itertools.islice(tracker.events, kept.stored, None))
            else:  # not the tracker this store handed out, or the database changed: Rasa's own count
                new = list(self._additional_events(session, tracker))
            rows = [self._row(sender_id, event) for event in new]
            session.add_all(rows)
            session.flush()  # the rows' ids, before the commit expires them
            newest = rows[-1].id if rows else last_id
            session.commit()
        # A new session reads back as that session's events only: read it again rather than keep a longer one.
        if newest is not None and not any(_starts_session(event) for event in new):
            self._keep(sender_id, _Kept(tracker, newest, len(tracker.events)))

    def _row(self, sender_id: str, event: Any) -> Any:
        """The database row of ``event``, as Rasa's SQLTrackerStore.save writes it."""
        data = event.as_dict()
        return self.SQLEvent(
            sender_id=sender_id,
            type_name=event.type_name,
            timestamp=data.get("timestamp"),
            intent_name=data.get("parse_data", {}).get("intent", {}).get(INTENT_NAME_KEY),
            action_name=data.get("name"),
            data=json.dumps(data),
        )

    def _keep(self, sender_id: str, kept: _Kept) -> None:
        if not self.cache_size:
            return
        self._kept[sender_id] = kept
        self._kept.move_to_end(sender_id)
        while len(self._kept) > self.cache_size:
            self._kept.popitem(last=False)


async def _once_more_after_disconnect(operation: Callable[[], Awaitable[T]]) -> T:
    """Run ``operation``; once more when the database connection was lost (a restarted server, a cut
    connection): SQLAlchemy has discarded the pool's connections by then, so the second try connects anew. A
    second failure is raised: the message fails and the worker asks again."""
    try:
        return await operation()
    except sa.exc.DBAPIError as error:
        if not error.connection_invalidated:
            raise
        log.warning("tracker store: the database connection was lost; trying once more")
        return await operation()


def _starts_session(event: Any) -> bool:
    return isinstance(event, SessionStarted) or (
        isinstance(event, ActionExecuted) and event.action_name == ACTION_SESSION_START_NAME
    )
