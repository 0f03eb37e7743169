"""The scheduler's jobs: each is a thin call of a service that derives what is due from the database (the one
place that lists them; henkham/bootstrap.py gives them their notifier)."""

from __future__ import annotations

from bot.zalo_webhook.broadcasts import run_campaigns
from bot.zalo_webhook.rasa_tracker import TrackerStore
from bot.zalo_webhook.retention import prune
from core.config import Settings
from core.emr.inbox import process_inbox
from core.emr.result_notices import ResultNotifier, plan_result_notices
from core.emr.retention import delete_expired_raw_files
from core.figures.channel import ChannelFigures
from core.figures.rollup import roll_up_settled_days, roll_up_today
from core.news.delivery import CampaignChannel
from core.reminders.planning import Notifier, follow_up_no_shows, kinds_of, plan_appointment_reminders
from core.reminders.reexams import plan_re_exam_reminders
from core.scheduler.runner import Job
from core.uow import Database


def scheduler_jobs(
    settings: Settings,
    db: Database,
    notifier: Notifier,
    campaigns: CampaignChannel,
    results: ResultNotifier,
    figures: ChannelFigures | None = None,
) -> list[Job]:
    kinds = kinds_of(settings.reminder_offsets_hours)
    tracker = TrackerStore(settings.rasa_tracker_store_url)
    return [
        Job("reminders", lambda: plan_appointment_reminders(db, notifier, kinds), settings.scheduler_reminders_seconds),
        Job(
            "re_exams",
            lambda: plan_re_exam_reminders(db, notifier, settings.reexam_reminder_days),
            settings.scheduler_reminders_seconds,
        ),
        Job("campaigns", lambda: run_campaigns(db, settings, channel=campaigns), settings.scheduler_campaigns_seconds),
        Job(
            "no_shows",
            lambda: follow_up_no_shows(db, notifier, grace_minutes=settings.no_show_grace_minutes),
            settings.scheduler_no_shows_seconds,
        ),
        Job("zalo_retention", lambda: prune(db, settings), settings.scheduler_prune_seconds),
        Job(
            "rasa_retention",
            lambda: tracker.prune(retention_days=settings.rasa_tracker_retention_days),
            settings.scheduler_rasa_retention_seconds,
        ),
        Job(
            "emr_inbox",
            lambda: process_inbox(
                db,
                settings.emr_inbox_dir,
                settle_seconds=settings.emr_inbox_settle_seconds,
                max_bytes=settings.emr_import_max_bytes,
            ),
            settings.scheduler_emr_inbox_seconds,
        ),
        Job(
            "emr_raw_retention",
            lambda: delete_expired_raw_files(db, retention_days=settings.emr_raw_retention_days),
            settings.scheduler_emr_retention_seconds,
        ),
        Job(
            "emr_result_notices",
            lambda: plan_result_notices(db, results, recent_days=settings.emr_result_notice_days),
            settings.scheduler_emr_result_notices_seconds,
        ),
        Job("figures_today", lambda: roll_up_today(db, figures), settings.scheduler_figures_seconds),
        Job(
            "figures_settled",
            lambda: roll_up_settled_days(db, figures, settle_minutes=settings.figures_settle_minutes),
            settings.scheduler_figures_settled_seconds,
        ),
    ]
