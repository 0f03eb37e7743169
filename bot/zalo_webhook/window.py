"""Zalo's sending window: when a chat message may reach a user, and what to do otherwise.

One purpose follows its own rules. A one-time code (``otp``) proves that the user holds a phone, so it
goes by ZNS to that phone only, never as a chat message (whatever the window): the chat would hand the code
to whoever holds the Zalo account. It is also exempt from the ZNS night hold: a code is a transactional
message the user asked for a moment ago, useless by 06:00 (it is valid 5 minutes), which is what Zalo's
transactional (OTP) templates are for.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.timeutil import NIGHT_END, NIGHT_START, local_to_utc, to_local

FREE_WINDOW = dt.timedelta(hours=48)
BILLED_WINDOW = dt.timedelta(days=7)
ZNS_ONLY = frozenset({"otp"})  # purposes never sent as a chat message
NIGHT_EXEMPT = frozenset({"otp"})  # ZNS purposes sent 22:00-06:00 too (transactional, asked for just now)


@dataclass(frozen=True)
class Route:
    channel: str  # "cs" (chat message), "zns" (template to the phone) or "none"
    reason: str = ""  # why, when it is not a free chat message


def choose_route(
    *,
    last_interaction_at: dt.datetime | None,
    now: dt.datetime,
    allow_billed: bool,
    phone: str | None,
    zns_template: str | None,
    has_user: bool = True,
    purpose: str = "",
) -> Route:
    """A chat message within 48 h of the user's last interaction; from 48 h to 7 days only when billed
    messages are allowed; otherwise a ZNS template to the phone when there is one and a template is
    configured for this kind of message; otherwise nothing, with the reason. A ``ZNS_ONLY`` purpose goes by
    its ZNS template or not at all."""
    if purpose in ZNS_ONLY:
        if not phone:
            return Route("none", f"a {purpose} message goes by ZNS only, and there is no phone number")
        if not zns_template:
            return Route("none", f"a {purpose} message goes by ZNS only, and this OA has no {purpose!r} ZNS template")
        return Route("zns", f"a {purpose} message goes by ZNS only")
    since = now - last_interaction_at if (has_user and last_interaction_at is not None) else None
    if since is not None and since <= FREE_WINDOW:
        return Route("cs")
    if since is not None and since <= BILLED_WINDOW and allow_billed:
        return Route("cs", "48 h - 7 days since the last interaction: billed chat message")
    closed = (
        "no interaction recorded"
        if since is None
        else ("outside the free 48 h window (billed messages not allowed)" if since <= BILLED_WINDOW else "over 7 days")
    )
    if not phone:
        return Route("none", f"chat window closed ({closed}) and no phone number for ZNS")
    if not zns_template:
        return Route("none", f"chat window closed ({closed}) and no ZNS template for this kind of message")
    return Route("zns", f"chat window closed ({closed}): ZNS template")


def night_ends(now: dt.datetime) -> dt.datetime | None:
    """When ``now`` falls in the ZNS night ban (22:00-06:00, Vietnam time), the ban's end (UTC); else None."""
    local = to_local(now)
    if NIGHT_END <= local.time() < NIGHT_START:
        return None
    day = local.date() + dt.timedelta(days=1) if local.time() >= NIGHT_START else local.date()
    return local_to_utc(day, NIGHT_END)
