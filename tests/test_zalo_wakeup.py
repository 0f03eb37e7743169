"""Idle workers are woken by PostgreSQL notifications when work is queued, instead of polling all the time."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from bot.zalo_webhook import inbox, outbox, wakeup, workers
from bot.zalo_webhook.events import parse
from bot.zalo_webhook.messages import OutgoingMessage
from core.uow import Database
from tests.harness import stopping_thread, wait_until
from tests.zalo_helpers import OA_ID, text_event


def test_a_ring_wakes_a_waiting_thread_and_an_early_ring_is_kept() -> None:
    doorbell = wakeup.Doorbell(limit=2)
    assert doorbell.wait(0.05) is False, "no ring: the wait times out"
    woken: list[bool] = []
    waiter = threading.Thread(target=lambda: woken.append(doorbell.wait(30)))
    waiter.start()
    # Ring once the thread waits (on the doorbell's condition), not before: an early ring is the case below.
    wait_until(lambda: doorbell._changed._waiters, timeout=10, what="the thread to wait on the doorbell")
    doorbell.ring()
    waiter.join(timeout=10)
    assert woken == [True], "the ring woke the waiting thread long before its 30 s"
    doorbell.ring()
    assert doorbell.wait(30) is True, "a ring while nobody waited is kept for the next wait"


def test_rings_are_counted_up_to_the_number_of_threads() -> None:
    doorbell = wakeup.Doorbell(limit=2)
    doorbell.ring(10)
    assert [doorbell.wait(0.05) for _ in range(3)] == [True, True, False]


@contextmanager
def running(db: Database, step: Callable[[], int], channel: str, threads: int = 2) -> Iterator[threading.Event]:
    with stopping_thread(
        lambda stop: workers.run_workers(db, step, threads=threads, stop=stop, channel=channel),
        "the workers stop when told to, even while waiting for work",
    ) as stop:
        yield stop


def store_event(db: Database, user: str, text: str) -> None:
    raw = json.dumps(text_event(user, text)).encode()
    with db.uow() as uow:
        assert inbox.store(uow, parse(raw)[0], raw)


def claimer(db: Database, claim: Callable, seen: list[int]) -> Callable[[], int]:
    """A worker step that only claims (and remembers) work, as a real step would start."""

    def step() -> int:
        with db.uow() as uow:
            claims = claim(uow)
        seen.extend(c.id for c in claims)
        return len(claims)

    return step


@pytest.mark.postgres_only("NOTIFY is PostgreSQL's; on SQLite the workers poll (next test)")
def test_on_postgresql_queued_work_wakes_idle_workers_without_polling(db, monkeypatch) -> None:
    monkeypatch.setattr(workers, "NOTIFIED_POLL_SECONDS", 3600.0)  # only a notification can wake them now
    doorbells: list[wakeup.Doorbell] = []

    class Seen(wakeup.Doorbell):
        def __init__(self, limit: int) -> None:
            super().__init__(limit)
            doorbells.append(self)

    monkeypatch.setattr(wakeup, "Doorbell", Seen)
    store_event(db, "early", "stored before the workers started")
    events: list[int] = []
    messages: list[int] = []
    with (
        running(db, claimer(db, inbox.claim, events), wakeup.INBOX_CHANNEL),
        running(db, claimer(db, outbox.claim, messages), wakeup.OUTBOX_CHANNEL),
    ):
        wait_until(lambda: len(events) == 1, timeout=15, what="the event stored before the start")
        wait_until(
            lambda: len(doorbells) == 2 and all(len(bell._changed._waiters) == 2 for bell in doorbells),
            timeout=15,
            what="every thread idle, waiting for an hour on its doorbell",
        )
        store_event(db, "late", "stored while the workers wait")
        wait_until(lambda: len(events) == 2, timeout=15, what="the worker woken by the new event")
        with db.uow() as uow:
            outbox.enqueue(uow, oa_id=OA_ID, user_id="late", message=OutgoingMessage("Dạ"), key="wake-1")
            uow.commit()
        wait_until(lambda: len(messages) == 1, timeout=15, what="the sender woken by the queued message")


@pytest.mark.postgres_only("NOTIFY is PostgreSQL's")
def test_a_rolled_back_queueing_wakes_nobody(db, monkeypatch) -> None:
    monkeypatch.setattr(workers, "NOTIFIED_POLL_SECONDS", 3600.0)
    calls: list[int] = []
    claiming_looks: list[int] = []  # the number of each look that found work
    step = claimer(db, outbox.claim, [])

    def counted() -> int:
        calls.append(1)
        found = step()
        if found:
            claiming_looks.append(len(calls))
        return found

    with running(db, counted, wakeup.OUTBOX_CHANNEL, threads=1):
        wait_until(lambda: len(calls) == 2, timeout=15, what="the first look and the look after connecting")
        with db.uow() as uow:
            outbox.enqueue(uow, oa_id=OA_ID, user_id="u", message=OutgoingMessage("Dạ"), key="rolled-back")
            uow.rollback()
        # Notifications arrive in commit order: a look woken by the rolled-back one would come before this one's.
        with db.uow() as uow:
            outbox.enqueue(uow, oa_id=OA_ID, user_id="u", message=OutgoingMessage("Dạ"), key="committed")
            uow.commit()
        wait_until(lambda: claiming_looks, timeout=15, what="the sender woken by the committed message")
        assert claiming_looks == [3], "nothing was queued by the rollback, so nobody looked before the commit"


@pytest.mark.sqlite_only("PostgreSQL is shown above")
def test_on_sqlite_idle_workers_poll(db) -> None:
    events: list[int] = []
    with running(db, claimer(db, inbox.claim, events), wakeup.INBOX_CHANNEL):
        store_event(db, "u", "xin chào")
        wait_until(lambda: len(events) == 1, timeout=15, what="the polling worker")
