"""Wiring of the channel's parts from the settings: the one place that builds a Zalo client, its token manager
and its rate limiter. henkham/bootstrap.py wires each process from these; ``mirror_tags`` takes them too."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.config import Settings
from core.uow import Database

from .client import ZaloClient
from .oas import OARegistry
from .processing import EventProcessor
from .rasa_bridge import Bot
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


@dataclass(frozen=True)
class ZaloAccess:
    """What every call to Zalo's OA API needs: the OAs, the HTTP client, their tokens, the rate limit."""

    registry: OARegistry
    client: ZaloClient
    tokens: TokenManager
    limiter: RateLimiter


def zalo_client(settings: Settings) -> ZaloClient:
    return ZaloClient(
        api_base=settings.zalo_api_base,
        zns_base=settings.zalo_zns_base,
        oauth_base=settings.zalo_oauth_base,
        timeout=settings.zalo_http_timeout_seconds,
    )


def zalo_access(settings: Settings, db: Database, *, client: ZaloClient | None = None) -> ZaloAccess:
    registry = OARegistry(settings)
    client = client or zalo_client(settings)
    tokens = TokenManager(db, client, registry, margin=dt.timedelta(minutes=settings.zalo_token_refresh_margin_minutes))
    return ZaloAccess(registry, client, tokens, RateLimiter(db, settings.zalo_rate_limit_per_minute))


def build_channel(settings: Settings, db: Database, *, bot: Bot, **sender_options: object) -> Channel:
    """The channel of a worker or sender process, answering with ``bot`` (henkham/bootstrap.py gives Rasa)."""
    access = zalo_access(settings, db)
    registry, client, tokens, limiter = access.registry, access.client, access.tokens, access.limiter
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
