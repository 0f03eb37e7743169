"""`henkham emr link|links|unlink`: record links of chat users made and removed by staff (core/emr/record_access.py).

henkham emr link --code C (--person ID | --cccd N) [--relation self|guardian] --staff NAME [--hospital SLUG]
    the user shows the desk code in Zalo; staff, having checked the CCCD, link them to the person
henkham emr links --person ID [--staff NAME] [--hospital SLUG]    the person's links (accounts masked)
henkham emr unlink --link ID --staff NAME [--hospital SLUG]         remove a link
"""

from __future__ import annotations

from typing import Any

import click

from core.audit import Actor
from core.booking.catalogue import find_hospital
from core.emr import record_access as service
from core.errors import InvalidInput
from core.timeutil import to_local, utcnow
from henkham.cli_errors import ROW_ID
from henkham.cli_world import world
from henkham.emr_cli import emr

STAFF = click.option("--staff", required=True, help="Who acts at the desk (kept with the link).")
HOSPITAL = click.option("--hospital", default=None, help="The staff's hospital: only persons with a visit there.")


def _run(work: Any, *, staff: str, hospital: str | None, purpose: str) -> Any:
    """Run ``work(uow, actor)`` as the staff member (confined to their hospital when named)."""
    with world().database.uow() as uow:
        hospital_id = find_hospital(uow, hospital).id if hospital else None
        actor = Actor(kind="cli", client_id=None, client_name=staff[:80], hospital_id=hospital_id, purpose=purpose)
        uow.actor = actor
        done = work(uow, actor)
        uow.commit()  # the audit row of a listing (a link or an unlink has committed with its own)
        return done


@emr.command("link")
@click.option("--code", required=True, help="The desk code the user shows in Zalo.")
@click.option("--person", "person_id", type=ROW_ID, help="The person's id.")
@click.option("--cccd", help="The CCCD on the card staff checked (instead of --person).")
@click.option("--relation", type=click.Choice(["self", "guardian"]), default="self", show_default=True)
@STAFF
@HOSPITAL
def link(code: str, person_id: int | None, cccd: str | None, relation: str, staff: str, hospital: str | None) -> None:
    """Link the Zalo user showing desk code CODE to a person's record, as the person or a child's guardian."""
    if (person_id is None) == (cccd is None):
        raise InvalidInput("give exactly one of --person and --cccd", "Dạ, cần đúng một trong --person và --cccd ạ.")

    def work(uow, actor: Actor) -> service.Linked:
        target = person_id if person_id is not None else service.person_by_cccd(uow, cccd or "")
        return service.link_at_desk(uow, code, target, relation=relation, staff=actor, now=utcnow())

    linked = _run(work, staff=staff, hospital=hospital, purpose="henkham emr link")
    click.echo(f"link {linked.link_id}: person {linked.person_id} ({linked.relation}), verified at the desk")


@emr.command("links")
@click.option("--person", "person_id", type=ROW_ID, required=True, help="The person's id.")
@click.option("--staff", default="cli", show_default=True, help="Who reads (kept in the audit).")
@HOSPITAL
def links(person_id: int, staff: str, hospital: str | None) -> None:
    """The person's record links, current and removed (the accounts masked)."""
    found = _run(
        lambda uow, actor: service.person_links(uow, person_id, staff=actor),
        staff=staff,
        hospital=hospital,
        purpose="henkham emr links",
    )
    for view in found:
        made = f"{to_local(view.created_at):%Y-%m-%d %H:%M} by {view.created_by or '-'}"
        removed = (
            f"; removed {to_local(view.removed_at):%Y-%m-%d %H:%M} by {view.removed_by or '-'}"
            if view.removed_at is not None
            else ""
        )
        click.echo(
            f"link {view.id}: {view.account} {view.relation} of person {view.person_id}, "
            f"verified by {view.verified_by}, made {made}{removed}"
        )
    click.echo(f"{len(found)} link{'s' if len(found) != 1 else ''}")


@emr.command("unlink")
@click.option("--link", "link_id", type=ROW_ID, required=True, help="The link's id.")
@STAFF
@HOSPITAL
def unlink(link_id: int, staff: str, hospital: str | None) -> None:
    """Remove a record link: the user reads the record no more."""
    _run(
        lambda uow, actor: service.remove_link(uow, link_id, staff=actor, now=utcnow()),
        staff=staff,
        hospital=hospital,
        purpose="henkham emr unlink",
    )
    click.echo(f"link {link_id} removed")
