"""Delivering outbox messages through the Zalo client, within Zalo's rules.

For each claimed message: choose the route by the window rule (chat within 48 h; 48 h - 7 days only if
billed messages are allowed; otherwise ZNS to the patient's phone when a template is configured for the
message's purpose; otherwise undeliverable with the reason), wait for the app's rate limit, send, and
record the outcome. No ZNS goes out 22:00-06:00 (Vietnam time): such a message is held until 06:00, or
dropped with the reason when it is no longer useful by then (``useful_until``, e.g. the visit it reminds
of); any message past its ``useful_until`` is dropped. A one-time code (purpose ``otp``) goes by ZNS only
and is not held at night (window.py); once settled, its code is blanked out of the outbox row. Network
errors, 5xx and ``-32`` are retried with exponential backoff; ``-216`` / ``-220`` refresh the token once and
resend; other errors stop the message with the reason.

A chat message "in doubt" (its previous sender died, or the request timed out or lost its answer, after
Zalo may have delivered it) is first looked up in the conversation with the user: if Zalo has it, it is
recorded as sent, not sent again. ZNS offers no such look-up: an in-doubt ZNS message is resent with the
same ``tracking_id``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from dataclasses import dataclass, replace

from sqlalchemy import select, update

from core.config import Settings
from core.correlation import correlated, of_outbox_key
from core.identifiers import mask_phone
from core.timeutil import utcnow
from core.uow import Database, UnitOfWork

from . import outbox
from .claims import Claim
from .client import INVALID_FIELD, ZaloApiError, ZaloClient, ZaloTransportError, cs_message
from .messages import OutgoingMessage
from .metrics import MESSAGES_SENT, SEND_RETRIES
from .models import Conversation, OutboundMessage, WorkStatus, ZaloOA
from .oas import OARegistry
from .ratelimit import RateLimiter
from .tokens import TokenManager, TokenUnavailable
from .window import NIGHT_EXEMPT, ZNS_ONLY, choose_route, night_ends

log = logging.getLogger(__name__)

GIVE_UP_AFTER = dt.timedelta(hours=24)  # a message still unsent a day after it was queued is failed
IN_DOUBT = "in doubt"  # prefix of the error of an attempt that may have reached Zalo (time-out, lost answer)
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_CAP_SECONDS = 600.0


@dataclass(frozen=True)
class Attempt:
    status: str
    channel: str | None = None
    message_id: str | None = None
    error: str = ""
    retry: bool = False
    hold_until: dt.datetime | None = None  # pending, not to be tried before this (the ZNS night ban)


class Sender:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        registry: OARegistry,
        client: ZaloClient,
        tokens: TokenManager,
        limiter: RateLimiter,
        *,
        backoff_base: float = BACKOFF_BASE_SECONDS,
        sleep=time.sleep,
    ) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.client = client
        self.tokens = tokens
        self.limiter = limiter
        self.backoff_base = backoff_base
        self.sleep = sleep

    def deliver(self, claim: Claim, now: dt.datetime | None = None) -> str:
        """Attempt one claimed message (claimed just now) and record the outcome; returns the resulting status."""
        started = time.monotonic()
        with self.db.reader() as uow:
            row = uow.session.get(OutboundMessage, claim.id)
            if row is None:
                return "missing"
            conversation = (
                uow.session.scalar(
                    select(Conversation).where(Conversation.oa_id == row.oa_id, Conversation.user_id == row.user_id)
                )
                if row.user_id
                else None
            )
            buttons_refused = uow.session.scalar(select(ZaloOA.buttons_refused).where(ZaloOA.oa_id == row.oa_id))
            uow.session.expunge_all()
        with correlated(of_outbox_key(row.idempotency_key)):
            in_doubt = claim.in_doubt or row.last_error.startswith(IN_DOUBT)
            attempt = self._attempt(
                claim, row, conversation, bool(buttons_refused), in_doubt, now or utcnow(), started=started
            )
            if in_doubt and attempt.retry and not attempt.error.startswith(IN_DOUBT):
                attempt = replace(attempt, error=f"{IN_DOUBT}: {attempt.error}")  # still unknown whether it arrived
            self._record(claim, row, attempt, now or utcnow())
            return attempt.status

    # --- one attempt ----------------------------------------------------------------------------------------
    def _attempt(
        self,
        claim: Claim,
        row: OutboundMessage,
        conversation: Conversation | None,
        buttons_refused: bool,
        in_doubt: bool,
        now: dt.datetime,
        *,
        started: float,
    ) -> Attempt:
        oa = self.registry.get(row.oa_id)
        if oa is None:
            return Attempt(WorkStatus.FAILED.value, error=f"OA {row.oa_id} is not configured")
        message = OutgoingMessage.from_json(row.body)
        phone = row.phone or (conversation.phone if conversation else None)
        route = choose_route(
            last_interaction_at=conversation.last_interaction_at if conversation else None,
            now=now,
            allow_billed=self.settings.zalo_allow_billed,
            phone=phone,
            zns_template=oa.zns_templates.get(row.purpose),
            has_user=row.user_id is not None,
            purpose=row.purpose,
        )
        if route.channel == "none":
            return Attempt(WorkStatus.UNDELIVERABLE.value, error=route.reason)
        if row.useful_until is not None and now >= row.useful_until:
            return Attempt(WorkStatus.UNDELIVERABLE.value, error="dropped: no longer useful (its time has passed)")
        if route.channel == "zns" and (night := self._night_rule(row, now)) is not None:
            return night
        try:
            token = self.tokens.access_token(row.oa_id)
            if route.channel == "cs" and in_doubt:
                found = self._already_delivered(token, row, message, buttons_refused)
                if found:
                    return Attempt(WorkStatus.DONE.value, "cs", found)
            self.limiter.take(oa.app_id, self.sleep)
            # Waited so long (the rate limit, a token refresh) that another sender may have taken it over: extend
            # the lease first, unless the claim is still fresh (the usual case: one database round trip saved).
            lease = self.settings.zalo_outbox_lease_seconds
            if time.monotonic() - started > lease / 4 and not self._still_mine(claim):
                return Attempt(WorkStatus.PENDING.value, error="lease lost while waiting for the rate limit")
            return self._send(row, message, route.channel, token, phone, buttons_refused, oa.zns_templates)
        except TokenUnavailable as error:
            return Attempt(WorkStatus.PENDING.value, route.channel, error=str(error), retry=True)
        except ZaloTransportError as error:  # Zalo may have delivered it before the answer was lost
            return Attempt(WorkStatus.PENDING.value, route.channel, error=f"{IN_DOUBT}: {error}", retry=True)
        except ZaloApiError as error:
            if error.token_problem:  # refused during the in-doubt look-up, or again right after a refresh
                with contextlib.suppress(TokenUnavailable):
                    self.tokens.after_rejection(row.oa_id, token)
                return Attempt(WorkStatus.PENDING.value, route.channel, error=str(error), retry=True)
            if error.retryable:  # -32
                return Attempt(WorkStatus.PENDING.value, route.channel, error=str(error), retry=True)
            if error.window_closed and route.channel == "cs":
                return self._after_window_closed(row, message, phone, oa.zns_templates, str(error), now)
            return Attempt(WorkStatus.FAILED.value, route.channel, error=str(error))

    def _send(
        self,
        row: OutboundMessage,
        message: OutgoingMessage,
        channel: str,
        token: str,
        phone: str | None,
        buttons_refused: bool,
        templates: dict[str, str],
    ) -> Attempt:
        def once(current: str) -> str:
            if channel == "zns":
                data = message.zns_data or {"noi_dung": message.text[:400]}
                return self.client.send_zns(current, phone or "", templates[row.purpose], data, row.idempotency_key)
            try:
                return self.client.send_message(current, row.user_id or "", message, buttons=not buttons_refused)
            except ZaloApiError as error:
                if error.code != INVALID_FIELD or buttons_refused or not message.buttons:
                    raise
                self._refuse_buttons(row.oa_id)  # this OA takes no button template: numbered text from now on
                return self.client.send_message(current, row.user_id or "", message, buttons=False)

        try:
            return Attempt(WorkStatus.DONE.value, channel, once(token))
        except ZaloApiError as error:
            if not error.token_problem:
                raise
            fresh = self.tokens.after_rejection(row.oa_id, token)  # one refresh, then one resend
            return Attempt(WorkStatus.DONE.value, channel, once(fresh))

    @staticmethod
    def _night_rule(row: OutboundMessage, now: dt.datetime) -> Attempt | None:
        """No ZNS 22:00-06:00 (but a one-time code): held until 06:00 if still useful then, else dropped with
        the reason."""
        morning = night_ends(now)
        if morning is None or row.purpose in NIGHT_EXEMPT:
            return None
        if row.useful_until is not None and row.useful_until <= morning:
            return Attempt(
                WorkStatus.UNDELIVERABLE.value,
                "zns",
                error="dropped: ZNS is not sent 22:00-06:00 and the message is no longer useful at 06:00",
            )
        return Attempt(
            WorkStatus.PENDING.value, "zns", error="held until 06:00: ZNS is not sent 22:00-06:00", hold_until=morning
        )

    def _after_window_closed(
        self,
        row: OutboundMessage,
        message: OutgoingMessage,
        phone: str | None,
        templates: dict[str, str],
        why: str,
        now: dt.datetime,
    ) -> Attempt:
        """Zalo says the chat window is closed (-230/-232) although our records thought it open: ZNS if the
        message has a template and the user a phone, else undeliverable."""
        if not phone or row.purpose not in templates:
            return Attempt(WorkStatus.UNDELIVERABLE.value, "cs", error=f"{why}; no ZNS route")
        if (night := self._night_rule(row, now)) is not None:
            return night
        try:
            token = self.tokens.access_token(row.oa_id)
            return self._send(row, message, "zns", token, phone, True, templates)
        except (ZaloApiError, ZaloTransportError, TokenUnavailable) as error:
            return Attempt(WorkStatus.PENDING.value, "zns", error=str(error), retry=True)

    def _already_delivered(
        self, token: str, row: OutboundMessage, message: OutgoingMessage, buttons_refused: bool
    ) -> str | None:
        """The Zalo message id of this message if the conversation shows the OA sent it after it was queued: the
        same text, or (a card without text: the phone request, a list) an OA message without text, whose id no
        other message of ours holds. Found, its echo is known as ours; sent again, it would arrive twice and its
        echo would look like a staff reply."""
        expected = cs_message(message, buttons=not buttons_refused).get("text")
        if not row.user_id:
            return None
        since_ms = int(row.created_at.timestamp() * 1000) - 5_000
        try:
            recent = self.client.conversation(token, row.user_id, count=10)  # Zalo allows 1 to 10
        except ZaloApiError as error:
            if error.retryable or error.token_problem:
                raise  # look again later
            # The look-up itself is refused: sending again risks a duplicate, not sending risks a loss.
            log.warning("outbox %s: conversation look-up refused (%s); sending again", row.id, error)
            return None
        candidates: list[str] = []
        for item in recent:
            if not isinstance(item, dict):
                continue
            at = item.get("time")
            at = int(at) if isinstance(at, int | str) and str(at).isdigit() else 0
            found = item.get("message_id")
            usable = isinstance(found, str | int) and 0 < len(str(found)) <= 64
            same = item.get("message") == expected if expected else not item.get("message")
            if usable and str(item.get("src")) == "0" and same and at >= since_ms:
                candidates.append(str(found))
        if not candidates:
            return None
        with self.db.reader() as uow:
            taken = set(
                uow.session.scalars(
                    select(OutboundMessage.zalo_message_id).where(
                        OutboundMessage.oa_id == row.oa_id, OutboundMessage.zalo_message_id.in_(candidates)
                    )
                )
            )
        return next((found for found in candidates if found not in taken), None)

    @staticmethod
    def _menu_shown(uow: UnitOfWork, row: OutboundMessage) -> None:
        """A pushed message (a reminder, say) with buttons is what the user sees last: its buttons become the
        menu that "1", "2" … and taps answer. Replies set it when queued (they go out at once)."""
        if row.purpose == "reply" or row.user_id is None:
            return
        buttons = OutgoingMessage.from_json(row.body).buttons
        if buttons:
            uow.session.execute(
                update(Conversation)
                .where(Conversation.oa_id == row.oa_id, Conversation.user_id == row.user_id)
                .values(last_menu=json.dumps([b.payload for b in buttons]))
            )

    def _refuse_buttons(self, oa_id: str) -> None:
        with self.db.uow() as uow:
            oa = uow.session.scalar(select(ZaloOA).where(ZaloOA.oa_id == oa_id))
            if oa is not None:
                oa.buttons_refused = True
                uow.commit()
        log.warning("OA %s refused a button template: menus go out as numbered text", oa_id)

    # --- the outcome ----------------------------------------------------------------------------------------
    def _still_mine(self, claim: Claim) -> bool:
        """Extend the lease just before sending, unless another sender has claimed the message meanwhile."""
        lease = dt.timedelta(seconds=self.settings.zalo_outbox_lease_seconds)
        with self.db.uow() as uow:
            if not outbox.settle(uow, claim, lease_until=utcnow() + lease):
                return False
            uow.commit()
        return True

    def _record(self, claim: Claim, row: OutboundMessage, attempt: Attempt, now: dt.datetime) -> None:
        values: dict[str, object] = {"status": attempt.status, "lease_until": None, "last_error": attempt.error[:300]}
        if attempt.channel:
            values["channel"] = attempt.channel
        if attempt.status == WorkStatus.DONE:
            values.update(zalo_message_id=attempt.message_id, sent_at=now)
        if attempt.hold_until is not None:
            values["next_attempt_at"] = attempt.hold_until
        if attempt.retry:
            if now - row.created_at >= GIVE_UP_AFTER:
                values.update(
                    status=WorkStatus.FAILED.value,
                    last_error=f"gave up after {row.attempts} attempts in a day: {attempt.error}"[:300],
                )
            else:
                delay = min(BACKOFF_CAP_SECONDS, self.backoff_base * 2 ** (row.attempts - 1))
                values["next_attempt_at"] = now + dt.timedelta(seconds=delay)
                SEND_RETRIES.labels(reason=attempt.error.split(":")[0][:40]).inc()
        if row.purpose in ZNS_ONLY and values["status"] != WorkStatus.PENDING:
            values["body"] = _blanked(row.body)  # the code was for the phone: the outbox keeps no copy of it
        with self.db.uow() as uow:
            if outbox.settle(uow, claim, **values):
                if values["status"] == WorkStatus.DONE and attempt.channel == "cs":
                    self._menu_shown(uow, row)
                uow.commit()
        status = str(values["status"])
        if status != WorkStatus.PENDING:
            MESSAGES_SENT.labels(status=status, channel=attempt.channel or "none").inc()
            target = mask_phone(row.phone) if row.phone and not row.user_id else row.user_id
            log.info("outbox %s to %s: %s %s", row.id, target, status, attempt.error)


def _blanked(body: str) -> str:
    """A settled ZNS-only message without its template values (a one-time code): only the names remain."""
    message = OutgoingMessage.from_json(body)
    return replace(message, zns_data=dict.fromkeys(message.zns_data, "")).to_json()
