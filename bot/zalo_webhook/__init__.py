"""The Zalo OA channel: signed webhook, inbox and outbox, the Zalo API client, and a local simulator."""
