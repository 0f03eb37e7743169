"""/api/v1/emr/matches (`his` scope): the person matches records staff review, added to the api blueprint
(henkham/web/api.py). A key restricted to a hospital sees and decides only the matches of which one person has
a visit at its hospital; identifiers are masked in every answer; every listing is an audited read."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from core.emr import matches
from core.emr.matches import MatchView
from core.inputs import Strict
from core.timeutil import utcnow

from .api import _client, api, auth, reader, uow


class MatchQuery(Strict):
    status: Literal["open", "confirmed", "rejected"] = Field("open", description="Which matches to list")


class ConfirmQuery(Strict):
    keep: Literal["person", "other"] = Field(
        "person", description="Whose name, birth date and sex are right (a same-CCCD conflict: which birth date)"
    )


class MatchList(BaseModel):
    matches: list[MatchView]


@api.get("/emr/matches")
@api.auth_required(auth, roles=["his"])
@api.input(MatchQuery, location="query")
@api.output(MatchList)
@api.doc(tags=["emr"])
def list_person_matches(query_data: MatchQuery):
    """Possible identities of two persons, oldest first: the same CCCD with a different birth date or sex
    (``cccd_conflict``), the same insurance card with a different name or birth date (``card_conflict``), the
    same name, birth date and sex (``candidate``); with both persons, their facilities and what agrees and
    what differs."""
    with reader() as u:
        return {"matches": matches.list_matches(u, status=query_data.status)}


@api.post("/emr/matches/<id:match_id>/confirm")
@api.auth_required(auth, roles=["his"])
@api.input(ConfirmQuery, location="query")
@api.output(MatchView)
@api.doc(tags=["emr"])
def confirm_person_match(match_id: int, query_data: ConfirmQuery):
    """The same person: the match's other person is merged into its person (visits, identifiers,
    immunizations, allergies and booking-profile links move); ``keep`` says whose name, birth date and sex are
    right (default: the person's)."""
    with uow() as u:
        return matches.confirm_match(u, match_id, by=_client().name, now=utcnow(), keep=query_data.keep)


@api.post("/emr/matches/<id:match_id>/reject")
@api.auth_required(auth, roles=["his"])
@api.output(MatchView)
@api.doc(tags=["emr"])
def reject_person_match(match_id: int):
    """Two people: the two persons stay apart, and the pair is not proposed again."""
    with uow() as u:
        return matches.reject_match(u, match_id, by=_client().name, now=utcnow())
