"""Prometheus metrics of the Zalo channel (served at /metrics by the web process; workers log them)."""

from __future__ import annotations

from prometheus_client import Counter

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
