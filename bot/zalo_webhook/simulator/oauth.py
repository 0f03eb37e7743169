"""Zalo's OAuth host (``oauth.zaloapp.com``): refreshing an OA's access token."""

from __future__ import annotations

from flask import Blueprint, request

from .context import current_simulator
from .gateway import zalo_endpoint

blueprint = Blueprint("zalo_oauth", __name__)


@blueprint.post("/v4/oa/access_token")
@zalo_endpoint(oauth=True)
def access_token() -> dict[str, str]:
    """Form-encoded ``refresh_token, app_id, grant_type``; header ``secret_key``; flat reply, no envelope."""
    form = request.form
    pair = current_simulator().tokens.refresh(
        app_id=form.get("app_id", ""),
        secret_key=request.headers.get("secret_key", ""),
        refresh_token=form.get("refresh_token", ""),
        grant_type=form.get("grant_type", ""),
    )
    return pair.as_reply()
