"""Who may read a person's record in chat: reader links of booking accounts (a Zalo user of one OA) to persons.

Two ways to a link, never typed details (a name, a birth date, a card number are guessable):

- the phone check: the phone Zalo verified for the user (the channel passes it; never a typed number) must be a
  phone the records hold for a person (:mod:`core.emr.phone_holders`); a one-time code (6 digits, 5 minutes,
  5 tries) goes to it by ZNS (:class:`CodeSender`) and the user types it back. Exactly one adult holding the
  phone: a ``self`` link; every child (under 16) holding it (the record's contact phone): a ``guardian`` link;
  several adults: refused (:class:`PhoneShared`, the desk route). The 5th wrong try of the hour (across the
  account's codes: a new code gives no new tries) kills the code and locks the account out of chat verification
  for a while; a new code replaces the pending one, at most 3 an hour. The phone (one Zalo user, an account on
  each OA) has its own budget across its accounts: 10 codes and 10 wrong tries an hour;
- the desk: the bot shows an 8-character desk code; staff, having seen the CCCD, enter it with the person
  (:func:`link_at_desk`); a guardian link only to a child; staff of a hospital only for persons with a visit
  there.

Codes are random (``secrets``), stored only as digests and checked with ``hmac.compare_digest``. A link is read
through merges (the person it names may since have been merged into another: it reads as that one). Every
refusal of a record read or of a verification leaves an audit row (``outcome`` "refused", the reason in
``detail``); a refusal commits the unit of work first, so that the row (and a counted wrong try) outlives it.

A new link gives the account a booking profile of the person (core/emr/link_profiles.py): the re-exam
reminders (XML14) then reach the chat user; a removed link takes it back (its reminders cancelled).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NoReturn, Protocol

from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select, bindparam, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from core import audit
from core.audit import Actor
from core.booking.codes import ALPHABET
from core.booking.models import Account
from core.config import Settings
from core.errors import DomainError, InvalidInput, NotFound
from core.identifiers import mask_identifier, normalise_phone, validate_cccd
from core.tenancy import OtherHospital
from core.timeutil import local_today, utcnow
from core.uow import UnitOfWork

from . import consent, link_refusals
from . import persons as index
from .link_profiles import give_profile, take_back_profile
from .link_refusals import (  # the refusals are part of this module's API
    CodeExpired,
    DeskCodeUnknown,
    LockedOut,
    NoPendingCode,
    NotGuardian,
    NotLinked,
    PhoneNotOnRecord,
    PhoneShared,
    TooManyCodes,
    WrongCode,
)
from .models import CodeChallenge, IdentifierKind, Person, PersonIdentifier, ReaderLink
from .phone_holders import CHILD_AGE, group, holders, is_child, visited  # noqa: F401  (CHILD_AGE: part of the API)
from .reading import CHANNEL_OF_KIND, MAX_MERGE_DEPTH

SELF, GUARDIAN = "self", "guardian"
OTP, DESK = "otp", "desk"
OTP_DIGITS = 6
OTP_MINUTES = 5
OTP_TRIES = 5
OTP_PER_HOUR = link_refusals.OTP_PER_HOUR
# One phone is one Zalo user, with an account on each OA of the province: a budget of its own, so that the OAs do
# not multiply the codes sent to it and the guesses (each account keeps its own 3 codes and 5 tries an hour).
PHONE_CODES = 10
PHONE_TRIES = 10
LOCKOUT_MINUTES = 60  # Settings.emr_otp_lockout_minutes (the caller passes it)
DESK_LENGTH = 8
DESK_MINUTES = 30
VERIFICATION = "emr_verification"  # the audit record kind of a refused verification (record id: the account)
_SEPARATORS = re.compile(r"[\s\-_.]")


# --- values ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Linked:
    """A current link of an account to a person (the person as the record reads: merges followed)."""

    link_id: int
    person_id: int
    relation: str  # "self" | "guardian"
    full_name: str
    given_name: str  # the last word of the name ("Na"), for "của bé Na"
    birth_year: int | None
    is_child: bool
    verified_by: str  # "otp" | "desk"


class LinkView(BaseModel):
    """A link as staff see it (current or removed): the account masked."""

    id: int
    person_id: int
    account_id: int
    account: str  # provider and external id, the user's id masked
    relation: str
    verified_by: str
    hospital_id: int | None
    created_at: dt.datetime
    created_by: str
    removed_at: dt.datetime | None
    removed_by: str | None


class CodeSender(Protocol):
    """Sends the one-time code to the phone (ZNS, outbox purpose ``otp``; never a chat message)."""

    def send_code(
        self, uow: UnitOfWork, *, account_id: int, phone: str, code: str, expires_at: dt.datetime, now: dt.datetime
    ) -> None: ...


def chat_reader(account_id: int, oa_id: str) -> Actor:
    """The reader of a record read in chat: the account of a Zalo user of one OA."""
    return Actor(kind="zalo_user", client_id=account_id, client_name=f"Zalo OA {oa_id}"[:80], account_id=account_id)


# --- the phone check --------------------------------------------------------------------------------------------


def start_phone_check(
    uow: UnitOfWork, account_id: int, phone: str, sender: CodeSender, *, now: dt.datetime | None = None
) -> dt.datetime:
    """Send a one-time code to ``phone`` (the phone Zalo verified, E.164) when the records hold it; returns when
    the code expires. The pending code of the account is replaced. Refused when locked out, after 3 codes in an
    hour, or when the phone is nobody's or several adults'. Committed."""
    at = now or utcnow()
    e164 = normalise_phone(phone)
    _refuse_when_locked(uow, account_id, at, e164)
    for whose, cap in (
        (CodeChallenge.account_id == account_id, OTP_PER_HOUR),
        (CodeChallenge.phone == e164, PHONE_CODES),
    ):
        window = list(
            uow.session.scalars(
                select(CodeChallenge.created_at).where(whose, *_of_the_hour(at)).order_by(CodeChallenge.created_at)
            )
        )
        if len(window) >= cap:
            _refuse(uow, TooManyCodes(window[-cap] + dt.timedelta(hours=1)), _verifier(uow, account_id), at)
    _matched(uow, account_id, e164, at)  # refuses before any code is sent
    _close_pending(uow, account_id, OTP, at)
    code = "".join(secrets.choice("0123456789") for _ in range(OTP_DIGITS))
    expires_at = at + dt.timedelta(minutes=OTP_MINUTES)
    uow.session.add(
        CodeChallenge(
            account_id=account_id,
            kind=OTP,
            phone=e164,
            digest=_digest(OTP, code, account_id),
            created_at=at,
            expires_at=expires_at,
            attempts=0,
        )
    )
    uow.session.flush()
    sender.send_code(uow, account_id=account_id, phone=e164, code=code, expires_at=expires_at, now=at)
    uow.commit()
    return expires_at


def check_code(
    uow: UnitOfWork,
    account_id: int,
    code: str,
    *,
    hospital_id: int | None = None,
    lockout_minutes: int = LOCKOUT_MINUTES,
    now: dt.datetime | None = None,
) -> list[Linked]:
    """Check the code the user typed against the pending one; right: link the account to the persons holding the
    phone (self and/or guardian, see the module) and return those links (self first). ``hospital_id``: the
    hospital of the OA the user writes to (kept on the links). A wrong code counts a try; the 5th kills the code
    and locks the account out for ``lockout_minutes``. Committed, refusals too."""
    at = now or utcnow()
    session = uow.session
    verifier = _verifier(uow, account_id)
    _refuse_when_locked(uow, account_id, at)
    pending = session.scalar(
        select(CodeChallenge)
        .where(CodeChallenge.account_id == account_id, CodeChallenge.kind == OTP, CodeChallenge.used_at.is_(None))
        .order_by(CodeChallenge.id.desc())
        .limit(1)
        .with_for_update()
    )
    if pending is None:
        _refuse(uow, NoPendingCode(), verifier, at)
    _refuse_when_locked(uow, account_id, at, pending.phone)  # the phone's tries spent on other OAs
    if pending.expires_at <= at:
        pending.used_at = at
        _refuse(uow, CodeExpired(), verifier, at)
    typed = _SEPARATORS.sub("", code or "")
    if not hmac.compare_digest(_digest(OTP, typed, account_id), pending.digest):
        pending.attempts += 1
        session.flush()
        # The wrong tries of the hour across the account's codes (a new code gives no new tries; those a lockout
        # already answered are not counted again), and across every account of its phone (the same Zalo user on
        # the province's other OAs): either budget spent locks the account out.
        tries = _tries(session, CodeChallenge.account_id == account_id, at, CodeChallenge.locked_until.is_(None))
        phone_tries = _tries(session, CodeChallenge.phone == pending.phone, at) if pending.phone else 0
        if tries >= OTP_TRIES or phone_tries >= PHONE_TRIES:
            pending.used_at = at
            pending.locked_until = at + dt.timedelta(minutes=lockout_minutes)
            _refuse(uow, LockedOut(pending.locked_until), verifier, at)
        _refuse(uow, WrongCode(min(OTP_TRIES - tries, PHONE_TRIES - phone_tries)), verifier, at)
    pending.used_at = at
    matched = _matched(uow, account_id, pending.phone or "", at)
    links = [
        _link(uow, account_id, person, relation, verified_by=OTP, hospital_id=hospital_id, by="zalo", now=at)
        for person, relation in matched
    ]
    uow.commit()
    for person, relation in matched:
        give_profile(uow, account_id, person, relation=relation, phone=pending.phone, now=at)
    return [_linked(session, link, at) for link in links]


def _matched(uow: UnitOfWork, account_id: int, phone: str, at: dt.datetime) -> list[tuple[Person, str]]:
    """(person, relation) the phone links to: the one adult holding it (self), every child (guardian)."""
    found = holders(uow.session, phone)
    today = local_today(at)
    adults = [p for p in found if not is_child(p, today)]
    children = [p for p in found if is_child(p, today)]
    verifier = _verifier(uow, account_id)
    if len(adults) > 1:
        _refuse(uow, PhoneShared(), verifier, at)
    if not found:
        _refuse(uow, PhoneNotOnRecord(), verifier, at)
    return [(p, SELF) for p in adults] + [(p, GUARDIAN) for p in children]


# --- the desk ----------------------------------------------------------------------------------------------------


def issue_desk_code(uow: UnitOfWork, account_id: int, *, now: dt.datetime | None = None) -> tuple[str, dt.datetime]:
    """A new desk code for the account to show at reception (its pending desk code is replaced): the code and
    when it expires. Committed."""
    at = now or utcnow()
    _close_pending(uow, account_id, DESK, at)
    code = "".join(secrets.choice(ALPHABET) for _ in range(DESK_LENGTH))
    expires_at = at + dt.timedelta(minutes=DESK_MINUTES)
    uow.session.add(
        CodeChallenge(
            account_id=account_id, kind=DESK, digest=_digest(DESK, code), created_at=at, expires_at=expires_at
        )
    )
    uow.commit()
    return code, expires_at


def link_at_desk(
    uow: UnitOfWork, code: str, person_id: int, *, relation: str, staff: Actor, now: dt.datetime | None = None
) -> Linked:
    """Staff who saw the CCCD link the account showing desk code ``code`` to person ``person_id`` as ``self`` or
    as the ``guardian`` of a child (under 16). Staff of a hospital link only persons with a visit there.
    Committed."""
    at = now or utcnow()
    session = uow.session
    if relation not in (SELF, GUARDIAN):
        raise InvalidInput(
            "relation must be self or guardian",
            "Dạ, quan hệ liên kết chỉ là bản thân hoặc người giám hộ ạ.",
            field="relation",
        )
    # The person first: staff of another hospital learn nothing of the code, and do not use it up.
    person = _person(session, person_id)
    if staff.hospital_id is not None and not visited(session, person.id, staff.hospital_id):
        _refuse(uow, OtherHospital("person"), staff, at, record_kind="emr_person", record_id=person.id)
    normalised = _SEPARATORS.sub("", code or "").upper()
    challenge = None
    if len(normalised) == DESK_LENGTH and all(ch in ALPHABET for ch in normalised):
        digest = _digest(DESK, normalised)
        challenge = session.scalar(
            select(CodeChallenge)
            .where(CodeChallenge.kind == DESK, CodeChallenge.digest == digest, CodeChallenge.used_at.is_(None))
            .with_for_update()
        )
        if challenge is not None and not hmac.compare_digest(challenge.digest, digest):
            challenge = None
    if challenge is None or challenge.expires_at <= at:
        _refuse(uow, DeskCodeUnknown(), staff, at, record_id="desk")
    if relation == GUARDIAN and not is_child(person, local_today(at)):
        _refuse(uow, NotGuardian(), staff, at, record_kind="emr_person", record_id=person.id)
    challenge.used_at = at
    link = _link(
        uow,
        challenge.account_id,
        person,
        relation,
        verified_by=DESK,
        hospital_id=staff.hospital_id,
        by=staff.client_name,
        now=at,
    )
    uow.commit()
    give_profile(uow, challenge.account_id, person, relation=relation, phone=None, now=at)
    return _linked(session, link, at)


# --- links -------------------------------------------------------------------------------------------------------


def linked_persons(uow: UnitOfWork, account_id: int, *, now: dt.datetime | None = None) -> list[Linked]:
    """The account's current links (one per person as the record reads, through merges), self first, then by
    when they were made. One query: the merges are followed in SQL."""
    at = now or utcnow()
    today = local_today(at)
    found: dict[int, Linked] = {}
    for link, person in _live_links_to_survivors(uow.session, account_id):
        linked = _linked_to(link, person, today)
        kept = found.get(linked.person_id)
        if kept is None or (kept.relation != SELF and linked.relation == SELF):
            found[linked.person_id] = linked
    return sorted(found.values(), key=lambda x: (x.relation != SELF, x.link_id))


def _links_to_survivors() -> Select:
    """The statement of :func:`_live_links_to_survivors` (account ``:account_id``): every step of each live
    link's chain of merges, deepest last."""
    up = (
        select(
            ReaderLink.id.label("link_id"),
            Person.id.label("person_id"),
            Person.merged_into_id,
            literal(0).label("depth"),
        )
        .join(Person, Person.id == ReaderLink.person_id)
        .where(ReaderLink.account_id == bindparam("account_id"), ReaderLink.removed_at.is_(None))
        .cte("up", recursive=True)
    )
    above = aliased(Person)
    up = up.union_all(
        select(up.c.link_id, above.id, above.merged_into_id, up.c.depth + 1)
        .join(up, above.id == up.c.merged_into_id)
        .where(up.c.depth < MAX_MERGE_DEPTH)
    )
    return (
        select(ReaderLink, Person)
        .join(up, up.c.link_id == ReaderLink.id)
        .join(Person, Person.id == up.c.person_id)
        .order_by(ReaderLink.id, up.c.depth)
    )


_LINKS_TO_SURVIVORS = _links_to_survivors()


def _live_links_to_survivors(session: Session, account_id: int) -> list[tuple[ReaderLink, Person]]:
    """The account's live links, each with the person its person was merged into (itself when it was not)."""
    last: dict[int, tuple[ReaderLink, Person]] = {}
    for link, person in session.execute(_LINKS_TO_SURVIVORS, {"account_id": account_id}).all():
        last[link.id] = (link, person)  # the deepest row of each link is its survivor
    return list(last.values())


def require_link(
    uow: UnitOfWork,
    account_id: int,
    person_id: int,
    *,
    reader: Actor,
    purpose: str,
    now: dt.datetime | None = None,
    links: Sequence[Linked] | None = None,
) -> Linked:
    """The account's link to the person (``person_id`` as any of its merged ids), allowed for ``purpose`` (a
    consent purpose, core.emr.consent.SUMMARY or RESULTS, granted by the account): else refused and audited
    (:class:`NotLinked`; :class:`NotGuardian` once a guardian's child is 16; consent.NoConsent). ``links``: the
    account's linked_persons when the caller has just read them."""
    at = now or utcnow()
    current = list(links) if links is not None else linked_persons(uow, account_id, now=at)
    linked = next((x for x in current if x.person_id == person_id), None)  # a survivor: its own root
    if linked is None:
        target = uow.session.get(Person, person_id)
        root_id = index.survivor(uow.session, target).id if target is not None else None
        linked = next((x for x in current if x.person_id == root_id), None)
    where = {"record_kind": "emr_person", "record_id": person_id, "purpose": purpose}
    if linked is None:
        _refuse(uow, NotLinked(), reader, at, **where)
    if linked.relation == GUARDIAN and not linked.is_child:
        _refuse(uow, NotGuardian(), reader, at, **where)
    if not consent.has_consent(uow, account_id, purpose):
        _refuse(uow, consent.NoConsent(purpose), reader, at, **where)
    return linked


def unlink(uow: UnitOfWork, account_id: int, person_id: int | None, *, by: str, now: dt.datetime | None = None) -> int:
    """The account removes its link to the person (any of its merged ids), or every link (``person_id`` None);
    returns how many links were removed. Committed."""
    at = now or utcnow()
    session = uow.session
    root_id = None
    if person_id is not None:
        target = session.get(Person, person_id)
        if target is None:
            return 0
        root_id = index.survivor(session, target).id
    removed = 0
    for link in _live_links(session, account_id):
        if root_id is None or _root_id(session, link.person_id) == root_id:
            link.removed_at, link.removed_by = at, (by or "")[:80]
            take_back_profile(uow, account_id, _person(session, link.person_id), now=at)
            removed += 1
    uow.commit()
    return removed


def remove_link(uow: UnitOfWork, link_id: int, *, staff: Actor, now: dt.datetime | None = None) -> None:
    """Staff remove a link (staff of a hospital: only of a person with a visit there). Committed."""
    at = now or utcnow()
    session = uow.session
    link = session.scalar(select(ReaderLink).where(ReaderLink.id == link_id).with_for_update())
    if link is None or link.removed_at is not None:
        raise NotFound(f"no current reader link {link_id}", "Dạ, không có liên kết hồ sơ này ạ.", link_id=link_id)
    root_id = _root_id(session, link.person_id)
    if staff.hospital_id is not None and not visited(session, root_id, staff.hospital_id):
        raise OtherHospital("person")
    link.removed_at, link.removed_by = at, (staff.client_name or "staff")[:80]
    if not any(_root_id(session, other.person_id) == root_id for other in _live_links(session, link.account_id)):
        take_back_profile(uow, link.account_id, _person(session, root_id), now=at)
    uow.commit()


def person_links(uow: UnitOfWork, person_id: int, *, staff: Actor) -> list[LinkView]:
    """Every link (current and removed) to the person and those merged into it, for staff (staff of a hospital:
    only of a person with a visit there); the accounts masked. An audited read."""
    session = uow.session
    person = _person(session, person_id)
    if staff.hospital_id is not None and not visited(session, person.id, staff.hospital_id):
        _refuse(
            uow,
            OtherHospital("person"),
            staff,
            utcnow(),
            record_kind="emr_person",
            record_id=person.id,
            purpose=staff.purpose or "reader links",
        )
    rows = session.execute(
        select(ReaderLink, Account.provider, Account.external_id)
        .join(Account, Account.id == ReaderLink.account_id)
        .where(ReaderLink.person_id.in_(group(session, person.id)))
        .order_by(ReaderLink.id)
    ).all()
    audit.record_record_read(
        uow,
        staff,
        "emr_person",
        person.id,
        purpose=staff.purpose or "reader links",
        channel=_channel(staff),
        detail="reader_links=" + ",".join(str(link.id) for link, _, _ in rows),
    )
    return [
        LinkView(
            id=link.id,
            person_id=link.person_id,
            account_id=link.account_id,
            account=f"{provider}:{_masked_external(external)}",
            relation=link.relation,
            verified_by=link.verified_by,
            hospital_id=link.hospital_id,
            created_at=link.created_at,
            created_by=link.created_by,
            removed_at=link.removed_at,
            removed_by=link.removed_by,
        )
        for link, provider, external in rows
    ]


# --- helpers -----------------------------------------------------------------------------------------------------


@functools.cache
def _code_key() -> bytes:
    """The server secret the digests are keyed with (``HENKHAM_SECRET_KEY``, the same for every process): a copy
    of the database alone gives no way to find a live code by trying its 10^6 (or 32^8) values."""
    return Settings().secret_key.encode()


def _digest(kind: str, code: str, account_id: int | None = None) -> str:
    """The stored form of a code (never the code itself): an HMAC under the server secret; an OTP's is bound to
    its account."""
    scope = f"{kind}:{account_id}" if account_id is not None else kind
    return hmac.new(_code_key(), f"henkham-emr-code:{scope}:{code}".encode(), hashlib.sha256).hexdigest()


def _close_pending(uow: UnitOfWork, account_id: int, kind: str, at: dt.datetime) -> None:
    for challenge in uow.session.scalars(
        select(CodeChallenge).where(
            CodeChallenge.account_id == account_id, CodeChallenge.kind == kind, CodeChallenge.used_at.is_(None)
        )
    ):
        challenge.used_at = at


def _of_the_hour(at: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """The one-time codes sent in the hour before ``at``."""
    return CodeChallenge.kind == OTP, CodeChallenge.created_at > at - dt.timedelta(hours=1)


def _tries(session: Session, whose: ColumnElement[bool], at: dt.datetime, *more: ColumnElement[bool]) -> int:
    """The wrong tries of the hour on the codes ``whose`` selects."""
    total = select(func.coalesce(func.sum(CodeChallenge.attempts), 0)).where(whose, *_of_the_hour(at), *more)
    return int(session.scalar(total) or 0)


def _refuse_when_locked(uow: UnitOfWork, account_id: int, at: dt.datetime, phone: str | None = None) -> None:
    """Refused while the account is locked out, or while the phone's wrong tries of the hour (every account of
    it) reach PHONE_TRIES: until the oldest of those codes is an hour old."""
    until = uow.session.scalar(
        select(func.max(CodeChallenge.locked_until)).where(
            CodeChallenge.account_id == account_id, CodeChallenge.locked_until > at
        )
    )
    if until is None and phone and _tries(uow.session, CodeChallenge.phone == phone, at) >= PHONE_TRIES:
        oldest = uow.session.scalar(
            select(func.min(CodeChallenge.created_at)).where(
                CodeChallenge.phone == phone, CodeChallenge.attempts > 0, *_of_the_hour(at)
            )
        )
        until = (oldest or at) + dt.timedelta(hours=1)
    if until is not None:
        _refuse(uow, LockedOut(until), _verifier(uow, account_id), at)


def _verifier(uow: UnitOfWork, account_id: int) -> Actor:
    """Who a verification refusal is audited as: the unit of work's actor, else the account in chat."""
    actor = getattr(uow, "actor", None)
    return (
        actor
        if actor is not None
        else Actor(kind="zalo_user", client_id=account_id, client_name="Zalo", account_id=account_id)
    )


def _channel(actor: Actor) -> str:
    return CHANNEL_OF_KIND.get(actor.kind, actor.kind)


def _refuse(
    uow: UnitOfWork,
    error: DomainError,
    actor: Actor,
    at: dt.datetime,
    *,
    record_kind: str = VERIFICATION,
    record_id: int | str | None = None,
    purpose: str = "record link",
) -> NoReturn:
    """Audit the refusal (outcome "refused", its code in detail), commit, raise ``error``."""
    audit.record_record_read(
        uow,
        actor,
        record_kind,
        record_id if record_id is not None else (actor.account_id or ""),
        purpose=purpose,
        channel=_channel(actor),
        detail=f"refused={error.code}",
        outcome="refused",
        now=at,
    )
    uow.commit()
    raise error


def _person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"no person {person_id}", "Dạ, em không tìm thấy hồ sơ này ạ.", person_id=person_id)
    return index.survivor(session, person)


def _root_id(session: Session, person_id: int) -> int:
    person = session.get(Person, person_id)
    return index.survivor(session, person).id if person is not None else person_id


def _live_links(session: Session, account_id: int) -> Sequence[ReaderLink]:
    return session.scalars(
        select(ReaderLink)
        .where(ReaderLink.account_id == account_id, ReaderLink.removed_at.is_(None))
        .order_by(ReaderLink.id)
    ).all()


def _link(
    uow: UnitOfWork,
    account_id: int,
    person: Person,
    relation: str,
    *,
    verified_by: str,
    hospital_id: int | None,
    by: str,
    now: dt.datetime,
) -> ReaderLink:
    """The account's live link to ``person`` (a survivor): the one it has (through merges), else a new one."""
    session = uow.session
    for link in _live_links(session, account_id):
        if _root_id(session, link.person_id) == person.id:
            return link
    link = ReaderLink(
        account_id=account_id,
        person_id=person.id,
        relation=relation,
        verified_by=verified_by,
        hospital_id=hospital_id,
        created_at=now,
        created_by=(by or "")[:80],
    )
    try:
        with session.begin_nested():  # a concurrent check of the same account may have made it first
            session.add(link)
    except IntegrityError:
        return session.scalars(
            select(ReaderLink).where(
                ReaderLink.account_id == account_id, ReaderLink.person_id == person.id, ReaderLink.removed_at.is_(None)
            )
        ).one()
    return link


def _linked(session: Session, link: ReaderLink, at: dt.datetime) -> Linked:
    return _linked_to(link, index.survivor(session, session.get(Person, link.person_id)), local_today(at))


def _linked_to(link: ReaderLink, person: Person, today: dt.date) -> Linked:
    words = person.full_name.split()
    return Linked(
        link_id=link.id,
        person_id=person.id,
        relation=link.relation,
        full_name=person.full_name,
        given_name=words[-1] if words else "",
        birth_year=person.birth_year,
        is_child=is_child(person, today),
        verified_by=link.verified_by,
    )


def _masked_external(external: str) -> str:
    """ "<oa_id>:<user_id>" with the user's id masked (the OA's id is no personal data)."""
    oa, sep, user = external.rpartition(":")
    return f"{oa}{sep}{mask_identifier(user)}" if sep else mask_identifier(external)


def person_by_cccd(uow: UnitOfWork, cccd: str) -> int:
    """The person (as the record reads: merges followed) holding the CCCD staff read off the card."""
    value = validate_cccd(cccd)
    holder = uow.session.scalar(
        select(PersonIdentifier.person_id).where(
            PersonIdentifier.kind == IdentifierKind.CCCD.value,
            PersonIdentifier.facility_code == "",
            PersonIdentifier.value == value,
        )
    )
    if holder is None:
        raise NotFound("no person holds that CCCD", "Dạ, em không tìm thấy hồ sơ có số CCCD này ạ.")
    return _person(uow.session, holder).id
