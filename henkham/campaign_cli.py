"""`henkham campaign ...`: health-education broadcasts from the command line (the same services as the API).

Registered in henkham/cli.py with ``cli.add_command(campaign)``.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import click

from core.news import campaigns
from core.news.campaigns import CampaignView
from henkham.cli_errors import ROW_ID, OneLineErrors
from henkham.cli_world import world


def _run(work: Any) -> CampaignView:
    with world().database.uow() as uow:
        return work(uow)


def _show(view: CampaignView) -> None:
    counts = view.counts
    target = view.target.kind + (f" {view.target.topic}" if view.target.topic else "")
    target += f" {view.target.oa_id}" if view.target.oa_id else ""
    click.echo(f"campaign {view.id} [{view.status}] {view.title}")
    click.echo(f"  hospital {view.hospital}, target {target}, send at {view.send_at_local} (Vietnam time)")
    click.echo(
        f"  recipients {counts.recipients}: waiting {counts.waiting}, sending {counts.sending}, "
        f"sent {counts.sent}, failed {counts.failed}, skipped {counts.skipped}"
    )
    for label, reasons in (("failed", view.failed_reasons), ("skipped", view.skipped_reasons)):
        for reason, n in reasons.items():
            click.echo(f"  {label} {n}: {reason}")


@click.group(cls=OneLineErrors)
def campaign() -> None:
    """Health-education broadcasts: create, follow, pause, resume, cancel."""


@campaign.command("create")
@click.option("--hospital", required=True, help="Slug of the hospital that sends it.")
@click.option("--title", required=True)
@click.option("--text", required=True, help="The message (with the title and addresses: one Zalo message).")
@click.option("--image-url", help="An http(s) address of an image.")
@click.option("--link", "link_url", help="An http(s) address to read more.")
@click.option("--topic", help="Target: the subscribers of this news topic (a slug, e.g. tieu_duong).")
@click.option("--followers", "oa_id", metavar="OA_ID", help="Target: every follower of this OA.")
@click.option("--patients", is_flag=True, help="Target: Zalo users who have had an appointment at the hospital.")
@click.option(
    "--at",
    "send_at",
    type=click.DateTime(["%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M%z", "%Y-%m-%dT%H:%M:%S%z"]),
    help="Send time, Vietnam time unless a zone is given (default: now).",
)
@click.option("--by", "created_by", default="cli", show_default=True, help="Who defines it (kept with it).")
def campaign_create(
    hospital: str,
    title: str,
    text: str,
    image_url: str | None,
    link_url: str | None,
    topic: str | None,
    oa_id: str | None,
    patients: bool,
    send_at: dt.datetime | None,
    created_by: str,
) -> None:
    """Define a campaign; prints its id and status."""
    chosen = [kind for kind, given in (("topic", topic), ("followers", oa_id), ("patients", patients)) if given]
    if len(chosen) != 1:
        click.echo("error: give exactly one target: --topic TOPIC, --followers OA_ID or --patients", err=True)
        sys.exit(1)
    target = {"kind": chosen[0], "topic": topic, "oa_id": oa_id}
    spec = campaigns.NewCampaign(
        hospital=hospital,
        title=title,
        text=text,
        image_url=image_url,
        link_url=link_url,
        target={key: value for key, value in target.items() if value is not None},
        send_at=send_at,
    )
    _show(_run(lambda uow: campaigns.create(uow, spec, channel=world().campaign_channel, created_by=created_by)))


@campaign.command("status")
@click.argument("campaign_id", type=ROW_ID)
def campaign_status(campaign_id: int) -> None:
    """What became of the campaign's recipients."""
    _show(_run(lambda uow: campaigns.status(uow, campaign_id, channel=world().campaign_channel)))


@campaign.command("pause")
@click.argument("campaign_id", type=ROW_ID)
def campaign_pause(campaign_id: int) -> None:
    """Stop queueing further recipients until resumed."""
    _show(_run(lambda uow: campaigns.pause(uow, campaign_id, channel=world().campaign_channel)))


@campaign.command("resume")
@click.argument("campaign_id", type=ROW_ID)
def campaign_resume(campaign_id: int) -> None:
    """Carry on a paused campaign."""
    _show(_run(lambda uow: campaigns.resume(uow, campaign_id, channel=world().campaign_channel)))


@campaign.command("cancel")
@click.argument("campaign_id", type=ROW_ID)
def campaign_cancel(campaign_id: int) -> None:
    """Stop for good; recipients not reached yet are skipped."""
    _show(_run(lambda uow: campaigns.cancel(uow, campaign_id, channel=world().campaign_channel)))
