"""/api/v1/emr/links (`his` scope): record links of chat users made and removed at the desk, added to the api
blueprint (henkham/web/api.py). The user shows a desk code in Zalo; staff, having checked the CCCD, post it with
the person (core/emr/record_access.py). A key restricted to a hospital links, lists and removes links only of
persons with a visit at its hospital; the accounts are masked; every listing is an audited read."""

from __future__ import annotations

import dataclasses
from typing import Literal

from pydantic import BaseModel, Field

from core.emr import record_access
from core.emr.record_access import LinkView
from core.inputs import Strict
from core.timeutil import utcnow

from .api import api, auth, reader, uow


class LinkIn(Strict):
    code: str = Field(min_length=1, max_length=40, description="The desk code the user shows in Zalo (8 characters)")
    person_id: int = Field(ge=1, le=2**31 - 1, description="The person whose CCCD staff checked")
    relation: Literal["self", "guardian"] = Field(
        "self", description="The user is the person (`self`) or the guardian of the child (`guardian`, under 16)"
    )


class LinkedOut(BaseModel):
    link_id: int
    person_id: int
    relation: str
    full_name: str
    birth_year: int | None
    is_child: bool
    verified_by: str


class LinkList(BaseModel):
    links: list[LinkView]


@api.post("/emr/links")
@api.auth_required(auth, roles=["his"])
@api.input(LinkIn)
@api.output(LinkedOut, status_code=201)
@api.doc(tags=["emr"])
def create_record_link(json_data: LinkIn):
    """Link the Zalo user showing the desk code to the person's record (after checking the CCCD in person): as
    the person, or as the guardian of a child under 16 (a guardian link to an adult is 409 `not_guardian`). An
    unknown, used or expired code is 404 `desk_code_unknown`; a person without a visit at the key's hospital 403."""
    with uow() as u:
        linked = record_access.link_at_desk(
            u, json_data.code, json_data.person_id, relation=json_data.relation, staff=u.actor, now=utcnow()
        )
    fields = {f.name: getattr(linked, f.name) for f in dataclasses.fields(linked) if f.name != "given_name"}
    return LinkedOut(**fields)


@api.get("/emr/persons/<id:person_id>/links")
@api.auth_required(auth, roles=["his"])
@api.output(LinkList)
@api.doc(tags=["emr"])
def list_record_links(person_id: int):
    """The person's record links (and those of persons merged into it), current and removed, oldest first; the
    Zalo user's id masked. An audited read."""
    with reader() as u:
        return {"links": record_access.person_links(u, person_id, staff=u.actor)}


@api.delete("/emr/links/<id:link_id>")
@api.auth_required(auth, roles=["his"])
@api.output({}, status_code=204)
@api.doc(tags=["emr"])
def delete_record_link(link_id: int):
    """Remove a record link: the user reads the record no more in chat (404 for a link already removed)."""
    with uow() as u:
        record_access.remove_link(u, link_id, staff=u.actor, now=utcnow())
    return "", 204
