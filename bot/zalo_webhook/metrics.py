"""Prometheus metrics of the Zalo channel: the web process serves them at /metrics, with the queues read from the
database; workers and senders serve their own counters and latencies on HENKHAM_METRICS_PORT
(core/metrics_server.py)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from core.timeutil import ensure_utc, utcnow
from core.uow import Database

from .models import WorkStatus

WEBHOOK_EVENTS = Counter("henkham_zalo_webhook_events_total", "Webhook deliveries by outcome", ["outcome"])
EVENTS_PROCESSED = Counter("henkham_zalo_events_processed_total", "Inbox events handled by outcome", ["outcome"])
MESSAGES_SENT = Counter(
    "henkham_zalo_messages_total", "Outbox messages by final status and channel", ["status", "channel"]
)
SEND_RETRIES = Counter("henkham_zalo_send_retries_total", "Send attempts that will be retried", ["reason"])
TOKEN_REFRESHES = Counter("henkham_zalo_token_refreshes_total", "Access token refreshes", ["oa_id"])
TOKEN_REFRESH_FAILURES = Counter(
    "henkham_zalo_token_refresh_failures_total", "Failed access token refreshes (an alert)", ["oa_id"]
)
RASA_REPLY_SECONDS = Histogram(
    "henkham_rasa_reply_seconds",
    "Time a Rasa server took to answer one user message (each server tried counts)",
    buckets=(0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8),
)
INBOX_HANDLE_SECONDS = Histogram(
    "henkham_zalo_inbox_handle_seconds",
    "Time a worker took to handle one inbox event (the bot's answer included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8),
)
OUTBOX_DELIVER_SECONDS = Histogram(
    "henkham_zalo_outbox_deliver_seconds",
    "Time a sender took to deliver one outbox message (Zalo's answer included)",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8),
)


class QueueCollector(Collector):
    """The queues' depth and the age of their oldest waiting row, read from the database at each scrape (one
    process exports them: the web's /metrics; every process would read the same rows)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from .models import InboundEvent, OutboundMessage

        depth = GaugeMetricFamily("henkham_zalo_queue_depth", "Rows waiting or in hand, per queue", labels=["queue"])
        oldest = GaugeMetricFamily(
            "henkham_zalo_queue_oldest_seconds", "Age of the oldest row waiting, per queue (0: none)", labels=["queue"]
        )
        now = utcnow()
        open_ = (WorkStatus.PENDING.value, WorkStatus.PROCESSING.value)
        with self.db.reader() as uow:
            for queue, model, since in (
                ("inbox", InboundEvent, InboundEvent.received_at),
                ("outbox", OutboundMessage, OutboundMessage.next_attempt_at),
            ):
                count, first = uow.session.execute(
                    select(func.count(), func.min(since)).select_from(model).where(model.status.in_(open_))
                ).one()
                depth.add_metric([queue], int(count or 0))
                age = (now - ensure_utc(first)).total_seconds() if first is not None else 0.0
                oldest.add_metric([queue], max(0.0, age))
        yield depth
        yield oldest
