"""Prometheus metrics of the Zalo channel (served at /metrics by the web process; workers log them)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
