"""The Rasa tracker store that keeps the conversations it answers (bot/rasa_tracker_store.py): it stores exactly
what Rasa's own SQL store stores, hands out a conversation as the database holds it, and never a stale one: not
after another server answered, not after a handling that changed the tracker without saving it, not after the
conversation was pruned, not across a new session."""

from __future__ import annotations

import json

from tests.rasa_env import run_in_rasa

SCRIPT = """
import asyncio, json, sys, tempfile
from pathlib import Path
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from bot.rasa_tracker_store import CachingSQLTrackerStore

domain = Domain.load("bot/domain.yml")
folder = Path(tempfile.mkdtemp())
url = f"sqlite:///{folder / 'tracker.db'}"
out = {}

def user(text, intent):
    return UserUttered(text, {"name": intent, "confidence": 0.9}, parse_data={"intent": {"name": intent}})

def dump(tracker):
    return [e.as_dict() for e in tracker.events] if tracker is not None else None

def rows(store):
    with store.session_scope() as s:
        return [(r.sender_id, r.type_name, r.intent_name, r.action_name, json.loads(r.data))
                for r in s.query(store.SQLEvent).order_by(store.SQLEvent.id)]

async def main():
    a = CachingSQLTrackerStore(domain=domain, host=url, cache_size=10)
    b = CachingSQLTrackerStore(domain=domain, host=url, cache_size=10)  # a second Rasa server
    plain = SQLTrackerStore(domain=domain, host=url)

    t = await a.get_or_create_tracker("u1")
    t.update_with_events([ActionExecuted("action_listen"), user("xin chào", "greet"),
                          BotUttered("Dạ, em chào anh/chị"), ActionExecuted("action_listen")], domain)
    await a.save(t)
    again = await a.retrieve("u1")
    out["kept_same_object"] = again is t
    out["kept_equals_database"] = dump(again) == dump(await plain.retrieve("u1"))

    # Server B answers the next message; A must see it.
    tb = await b.retrieve("u1")
    tb.update_with_events([user("đặt lịch", "book_appointment"), SlotSet("department", "nhi")], domain)
    await b.save(tb)
    seen = await a.retrieve("u1")
    out["other_server_seen"] = seen is not t and dump(seen) == dump(await plain.retrieve("u1"))
    out["slot_from_other_server"] = seen.get_slot("department")

    # A handling that changed the tracker and failed before saving: the next look-up is the stored one.
    seen.update(user("hủy", "cancel_appointment"))
    after_failure = await a.retrieve("u1")
    out["unsaved_change_dropped"] = dump(after_failure) == dump(await plain.retrieve("u1"))

    # Saved through the kept tracker: stored exactly as Rasa's own store stores it.
    after_failure.update_with_events([user("thứ 2", "inform"), BotUttered("Dạ, thứ Hai ạ")], domain)
    await a.save(after_failure)
    twin = await plain.retrieve("u2") or plain.init_tracker("u2")
    for event in (await plain.retrieve("u1")).events:
        twin.update(event)
    await plain.save(twin)
    cached_rows = [r[1:] for r in rows(a) if r[0] == "u1"]
    plain_rows = [r[1:] for r in rows(a) if r[0] == "u2"]
    out["rows_as_rasa_writes_them"] = cached_rows == plain_rows
    out["no_row_twice"] = len(cached_rows) == len((await plain.retrieve_full_tracker("u1")).events)

    # A new session: read back as the new session's events only, as Rasa's store does.
    kept = await a.retrieve("u1")
    kept.update_with_events([ActionExecuted("action_session_start"), SessionStarted(),
                             ActionExecuted("action_listen")], domain)
    await a.save(kept)
    fresh = await a.retrieve("u1")
    out["new_session_as_stored"] = dump(fresh) == dump(await plain.retrieve("u1"))
    out["new_session_events"] = len(fresh.events)

    # Pruned by the retention job: gone, not handed out from memory.
    with a.session_scope() as s:
        s.query(a.SQLEvent).filter(a.SQLEvent.sender_id == "u1").delete()
        s.commit()
    out["pruned_is_gone"] = await a.retrieve("u1") is None

    # Bounded: the oldest conversation leaves the cache first.
    small = CachingSQLTrackerStore(domain=domain, host=url, cache_size=2)
    for n in range(3):
        tr = await small.get_or_create_tracker(f"c{n}")
        tr.update(user("xin chào", "greet"))
        await small.save(tr)
    out["cache_bounded"] = sorted(small._kept)
    print(json.dumps(out))

asyncio.run(main())
"""


def test_the_tracker_kept_is_the_one_stored_and_never_stale():
    out = json.loads(run_in_rasa(SCRIPT))
    assert out["kept_same_object"], "the conversation answered last is not rebuilt from the database"
    assert out["kept_equals_database"]
    assert out["other_server_seen"] and out["slot_from_other_server"] == "nhi"
    assert out["unsaved_change_dropped"]
    assert out["rows_as_rasa_writes_them"] and out["no_row_twice"]
    assert out["new_session_as_stored"] and out["new_session_events"] == 2
    assert out["pruned_is_gone"]
    assert out["cache_bounded"] == ["c1", "c2"]
