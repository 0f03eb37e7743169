"""`henkham emr matches …`: the person matches records staff review (core/emr/matches.py), from the command line.

henkham emr matches [--status open|confirmed|rejected]   list them
henkham emr matches confirm ID [--by NAME]                the same person: merge
henkham emr matches reject ID [--by NAME]                 two people: keep apart for good
"""

from __future__ import annotations

from typing import Any

import click

from core.audit import Actor
from core.emr import matches as service
from core.emr.matches import MatchPerson, MatchView
from core.timeutil import utcnow
from henkham.cli_errors import ROW_ID
from henkham.cli_world import world
from henkham.emr_cli import emr


def _run(work: Any, *, by: str = "cli", purpose: str = "henkham emr matches") -> Any:
    """Run ``work`` in a unit of work whose actor is the command line: what it shows is an audited read."""
    with world().database.uow() as uow:
        uow.actor = Actor(kind="cli", client_id=None, client_name=(by or "cli")[:80], purpose=purpose)
        done = work(uow)
        uow.commit()  # the audit rows of a listing (a decision has committed with its own)
        return done


def _side(label: str, p: MatchPerson) -> str:
    ids = ", ".join(
        f"{name} {value}" for name, value in (("CCCD", p.cccd), ("BHXH", p.social_insurance_number)) if value
    )
    visits = f"{p.visits} visit{'s' if p.visits != 1 else ''}" + (
        f" at {', '.join(p.facilities)}" if p.facilities else ""
    )
    merged = f", merged into person {p.merged_into_id}" if p.merged_into_id else ""
    facts = [p.full_name or "(no name)", p.birth_date or "birth date unknown", p.sex or "sex unknown"]
    return f"  {label} {p.id}: {', '.join(facts)}{', ' + ids if ids else ''}; {visits}{merged}"


def _show(view: MatchView) -> None:
    click.echo(f"match {view.id} [{view.status}] {view.kind}: {view.detail}")
    click.echo(_side("person", view.person))
    click.echo(_side("other ", view.other))
    click.echo(f"  agrees: {', '.join(view.agrees) or '-'}; differs: {', '.join(view.differs) or '-'}")
    if view.decided_at is not None:
        click.echo(f"  decided by {view.decided_by} at {view.decided_at:%Y-%m-%d %H:%M} UTC")


@emr.group("matches", invoke_without_command=True)
@click.option("--status", type=click.Choice(["open", "confirmed", "rejected"]), default="open", show_default=True)
@click.pass_context
def matches(ctx: click.Context, status: str) -> None:
    """Possible identities of two persons (same CCCD or card with something that differs, same name, birth
    date and sex): list them; `confirm ID` merges, `reject ID` keeps them apart."""
    if ctx.invoked_subcommand is not None:
        return
    found = _run(lambda uow: service.list_matches(uow, status=status))
    for view in found:
        _show(view)
    click.echo(f"{len(found)} {status} match{'es' if len(found) != 1 else ''}")


@matches.command("confirm")
@click.argument("match_id", type=ROW_ID, metavar="ID")
@click.option("--by", default="cli", show_default=True, help="Who decides (kept with the decision).")
@click.option(
    "--keep",
    type=click.Choice(["person", "other"]),
    default="person",
    show_default=True,
    help="Whose name, birth date and sex are right (a same-CCCD conflict: which birth date).",
)
def confirm(match_id: int, by: str, keep: str) -> None:
    """The same person: merge the match's other person into its person."""
    view = _run(
        lambda uow: service.confirm_match(uow, match_id, by=by, now=utcnow(), keep=keep),
        by=by,
        purpose="henkham emr matches confirm",
    )
    click.echo(f"match {view.id} confirmed: person {view.other.id} merged into person {view.person.id}")
    _show(view)


@matches.command("reject")
@click.argument("match_id", type=ROW_ID, metavar="ID")
@click.option("--by", default="cli", show_default=True, help="Who decides (kept with the decision).")
def reject(match_id: int, by: str) -> None:
    """Two people: keep the two persons apart (the pair is not proposed again)."""
    view = _run(
        lambda uow: service.reject_match(uow, match_id, by=by, now=utcnow()),
        by=by,
        purpose="henkham emr matches reject",
    )
    click.echo(f"match {view.id} rejected: persons {view.person.id} and {view.other.id} kept apart")
