"""/api/v1/campaigns: health-education broadcasts for hospital staff (``staff`` scope).

A key restricted to one hospital (``henkham apikey create --hospital``) manages that hospital's campaigns only.
"""

from __future__ import annotations

from flask import current_app

from core.news import campaigns
from core.news.campaigns import CampaignView, NewCampaign

from .api import _client, api, auth, uow


def _channel():
    """The campaigns' channel, wired by henkham/bootstrap.py into the app."""
    return current_app.extensions["henkham.campaign_channel"]


@api.post("/campaigns")
@api.auth_required(auth, roles=["staff"])
@api.input(NewCampaign)
@api.output(CampaignView, status_code=201)
@api.doc(tags=["campaigns"])
def create_campaign(json_data: NewCampaign):
    """Define a broadcast: title, text, optional image and link addresses, a target (``followers`` of an OA,
    subscribers of a news ``topic``, ``patients`` of the hospital) and a send time (default: now). It is sent
    from its send time, outside 22:00-06:00, to who has not unsubscribed and is under the frequency cap."""
    client = _client()
    with uow() as u:
        return campaigns.create(u, json_data, channel=_channel(), created_by=client.name)


@api.get("/campaigns/<id:campaign_id>")
@api.auth_required(auth, roles=["staff"])
@api.output(CampaignView)
@api.doc(tags=["campaigns"])
def campaign_status(campaign_id: int):
    """The campaign and what became of its recipients: waiting, sending, sent, failed and skipped (with the
    reasons)."""
    with uow() as u:
        return campaigns.status(u, campaign_id, channel=_channel())


@api.post("/campaigns/<id:campaign_id>/pause")
@api.auth_required(auth, roles=["staff"])
@api.output(CampaignView)
@api.doc(tags=["campaigns"])
def pause_campaign(campaign_id: int):
    """Stop queueing further recipients (messages already handed to the sender still go out)."""
    with uow() as u:
        return campaigns.pause(u, campaign_id, channel=_channel())


@api.post("/campaigns/<id:campaign_id>/resume")
@api.auth_required(auth, roles=["staff"])
@api.output(CampaignView)
@api.doc(tags=["campaigns"])
def resume_campaign(campaign_id: int):
    """Carry on a paused campaign."""
    with uow() as u:
        return campaigns.resume(u, campaign_id, channel=_channel())


@api.post("/campaigns/<id:campaign_id>/cancel")
@api.auth_required(auth, roles=["staff"])
@api.output(CampaignView)
@api.doc(tags=["campaigns"])
def cancel_campaign(campaign_id: int):
    """Stop for good: recipients not reached yet are skipped as cancelled."""
    with uow() as u:
        return campaigns.cancel(u, campaign_id, channel=_channel())
