"""ZNS (``business.openapi.zalo.me``): template messages to a phone number, and template info."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from .codes import ZNS_INVALID_TEMPLATE, ZaloError, success
from .context import current_simulator
from .gateway import json_body, require_token, zalo_endpoint
from .shapes import MAX_TEMPLATE_VALUE, check_zns

TEMPLATE_TIMEOUT_MS = 7200000

blueprint = Blueprint("zalo_zns", __name__)


@blueprint.post("/message/template")
@zalo_endpoint()
def send_template() -> dict[str, Any]:
    simulator = current_simulator()
    oa_id = require_token()
    body = json_body()
    check_zns(body, simulator.config.templates)
    record = simulator.store.record_zns(
        oa_id,
        body["phone"],
        body["template_id"],
        body["template_data"],
        body.get("tracking_id"),
        body.get("mode"),
    )
    quota = simulator.config.zns_daily_quota
    remaining = max(quota - simulator.store.zns_sent(oa_id), 0)
    return success(
        {
            "msg_id": record["msg_id"],
            "sent_time": str(record["time"]),
            "quota": {"dailyQuota": str(quota), "remainingQuota": str(remaining)},
        }
    )


@blueprint.get("/template/info/v2")
@zalo_endpoint()
def template_info() -> dict[str, Any]:
    require_token()
    template_id = request.args.get("template_id", "")
    params = current_simulator().config.templates.get(template_id)
    if params is None:
        raise ZaloError(ZNS_INVALID_TEMPLATE, f"unknown template_id {template_id!r}")
    return success(
        {
            "templateId": template_id,
            "templateName": f"Mẫu {template_id}",
            "status": "ENABLE",
            "listParams": [
                {
                    "name": name,
                    "require": True,
                    "type": "STRING",
                    "maxLength": MAX_TEMPLATE_VALUE,
                    "minLength": 0,
                    "acceptNull": False,
                }
                for name in params
            ],
            "timeout": TEMPLATE_TIMEOUT_MS,
            "previewUrl": "",
            "templateQuality": "HIGH",
            "templateTag": "TRANSACTION",
            "price": "200",
        }
    )
