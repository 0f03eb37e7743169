"""Wiring of the channel's parts from the settings (the one place that builds them)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.config import Settings
from core.uow import Database

from .client import ZaloClient
from .oas import OARegistry
from .processing import EventProcessor
from .rasa_bridge import Bot, RasaBot
from .ratelimit import RateLimiter
from .sender import Sender
from .tokens import TokenManager


@dataclass
class Channel:
    db: Database
    settings: Settings
    registry: OARegistry
    client: ZaloClient
    tokens: TokenManager
    limiter: RateLimiter
    processor: EventProcessor
    sender: Sender


def build_channel(settings: Settings, db: Database, *, bot: Bot | None = None, **sender_options: object) -> Channel:
    registry = OARegistry(settings)
    client = ZaloClient(
        api_base=settings.zalo_api_base,
        zns_base=settings.zalo_zns_base,
        oauth_base=settings.zalo_oauth_base,
        timeout=settings.zalo_http_timeout_seconds,
    )
    tokens = TokenManager(db, client, registry, margin=dt.timedelta(minutes=settings.zalo_token_refresh_margin_minutes))
    limiter = RateLimiter(db, settings.zalo_rate_limit_per_minute)
    bot = bot or RasaBot(settings.rasa_url, settings.rasa_timeout_seconds, token=settings.rasa_token)
    return Channel(
        db=db,
        settings=settings,
        registry=registry,
        client=client,
        tokens=tokens,
        limiter=limiter,
        processor=EventProcessor(db, settings, registry, bot),
        sender=Sender(db, settings, registry, client, tokens, limiter, **sender_options),
    )
