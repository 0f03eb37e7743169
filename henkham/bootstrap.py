"""The composition root: the one module that wires each process kind from the settings.

Every entry point comes here — the web app (``henkham serve``, gunicorn), the inbox worker and the sender
(``henkham zalo worker|sender``), the scheduler, the action server (``henkham actions``) and each CLI command —
and gets its parts built once for its process: the database, the Zalo channel (client, tokens, rate limiter:
``bot/zalo_webhook/runtime.py``), the notifiers of reminders, campaigns and results, the sender of one-time
codes, the Rasa client, the Graph client.
Nothing below caches a process-wide instance: a process calls its function once and keeps what it returns;
tests build their world through the same functions with their own settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.config import Settings, get_settings
from core.uow import Database

if TYPE_CHECKING:
    from apiflask import APIFlask

    from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel
    from bot.zalo_webhook.figures_channel import ZaloFigures
    from bot.zalo_webhook.graph import ZaloGraph
    from bot.zalo_webhook.notices import ZaloNotifier
    from bot.zalo_webhook.rasa_bridge import Bot, RasaBot
    from bot.zalo_webhook.record_channel import ZaloCodeSender, ZaloResultNotifier
    from bot.zalo_webhook.runtime import Channel
    from core.scheduler.leadership import Leadership
    from core.scheduler.runner import Job


def load_settings() -> Settings:
    """This process's settings, read from the environment and checked (production: no development secrets)."""
    return get_settings()


def database(settings: Settings) -> Database:
    return Database.from_settings(settings)


# --- the parts ---------------------------------------------------------------------------------------------
def rasa_bot(settings: Settings) -> RasaBot:
    """The client of the Rasa server, with the server's token."""
    from bot.zalo_webhook.rasa_bridge import RasaBot

    return RasaBot(settings.rasa_url, settings.rasa_timeout_seconds, token=settings.rasa_token)


def graph(settings: Settings) -> ZaloGraph:
    """The client of Zalo's Graph API (who an end user's access token belongs to)."""
    from bot.zalo_webhook.graph import ZaloGraph

    return ZaloGraph(
        settings.zalo_graph_base,
        timeout=settings.zalo_graph_timeout_seconds,
        cache_seconds=settings.zalo_graph_cache_seconds,
    )


def notifier(settings: Settings) -> ZaloNotifier:
    """Where reminders go (core/reminders/planning.py's ``Notifier``): the Zalo outbox."""
    from bot.zalo_webhook.notices import ZaloNotifier

    return ZaloNotifier()


def code_sender() -> ZaloCodeSender:
    """How a one-time code reaches the phone a chat user shares (core/emr/record_access.py's ``CodeSender``):
    a ZNS message through the Zalo outbox."""
    from bot.zalo_webhook.record_channel import ZaloCodeSender

    return ZaloCodeSender()


def result_notifier() -> ZaloResultNotifier:
    """Where "your results are ready" notices go (core/emr/result_notices.py's ``ResultNotifier``): the Zalo
    outbox."""
    from bot.zalo_webhook.record_channel import ZaloResultNotifier

    return ZaloResultNotifier()


def figures_channel() -> ZaloFigures:
    """The channel's numbers for the figures' roll-up (core/figures/channel.py's ``ChannelFigures``)."""
    from bot.zalo_webhook.figures_channel import ZaloFigures

    return ZaloFigures()


def campaign_channel() -> ZaloCampaignChannel:
    """How campaigns reach people and learn what became of their messages (core/news/delivery.py's
    ``CampaignChannel``): the Zalo outbox and OA followers."""
    from bot.zalo_webhook.campaign_channel import ZaloCampaignChannel

    return ZaloCampaignChannel()


def channel(settings: Settings, db: Database, *, bot: Bot | None = None, **sender_options: object) -> Channel:
    """The Zalo channel (inbox processor and sender) answering with Rasa unless ``bot`` is given."""
    from bot.zalo_webhook.runtime import build_channel

    return build_channel(settings, db, bot=bot if bot is not None else rasa_bot(settings), **sender_options)


def jobs(settings: Settings, db: Database) -> list[Job]:
    """The scheduler's jobs (henkham/jobs.py), their notifier wired here."""
    from henkham.jobs import scheduler_jobs

    return scheduler_jobs(
        settings, db, notifier(settings), campaign_channel(), result_notifier(), figures=figures_channel()
    )


# --- the process kinds -------------------------------------------------------------------------------------
def web(settings: Settings | None = None, *, db: Database | None = None) -> APIFlask:
    """The web process (REST API, Zalo webhook, docs, metrics)."""
    from henkham.web import create_app

    settings = settings or load_settings()
    return create_app(settings, db or database(settings), graph(settings))


@dataclass
class ChannelProcess:
    database: Database
    channel: Channel


def channel_process(settings: Settings) -> ChannelProcess:
    """An inbox worker or a sender: the database, the channel, the OAs' rows stored."""
    db = database(settings)
    wired = channel(settings, db)
    with db.uow() as uow:
        wired.registry.sync(uow)
    return ChannelProcess(db, wired)


@dataclass
class SchedulerProcess:
    database: Database
    leadership: Leadership
    jobs: list[Job]


def scheduler(settings: Settings) -> SchedulerProcess:
    """The scheduler: who leads (an advisory lock on PostgreSQL) and its jobs. ValueError for a database that
    cannot elect a leader."""
    from core.scheduler.leadership import leadership_for

    leadership = leadership_for(settings.database_url)
    db = database(settings)
    return SchedulerProcess(db, leadership, jobs(settings, db))


def actions(settings: Settings) -> Database:
    """The action server: its one database, handed to the actions (bot/actions/context.py) with a chat user's
    caps and the sender of one-time codes."""
    from bot.actions import context
    from bot.zalo_webhook.accounts import PROVIDER
    from core.booking.caps import Caps

    db = database(settings)
    per_user = Caps(  # one Zalo user, all their relatives' profiles together; the channel itself has no cap
        provider=PROVIDER,
        profiles_per_account=settings.api_max_profiles_per_account,
        profiles_per_client=None,
        live_bookings_per_account=settings.api_max_live_bookings_per_account,
        live_bookings_per_client=None,
    )
    context.use_database(db, per_user, code_sender=code_sender())
    return db


@dataclass
class Cli:
    """One CLI command's world: its settings, and a database built when the command first needs one."""

    settings: Settings
    _database: Database | None = field(default=None, repr=False)

    @property
    def database(self) -> Database:
        if self._database is None:
            self._database = database(self.settings)
        return self._database

    @property
    def campaign_channel(self) -> ZaloCampaignChannel:
        return campaign_channel()

    @property
    def rasa(self) -> RasaBot:
        return rasa_bot(self.settings)

    def close(self) -> None:
        if self._database is not None:
            self._database.dispose()
            self._database = None


def cli(settings: Settings | None = None) -> Cli:
    return Cli(settings or load_settings())
