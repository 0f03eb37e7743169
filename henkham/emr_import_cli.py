"""Commands of `henkham emr` (henkham/emr_cli.py)."""

from __future__ import annotations

import click

from henkham.emr_cli import emr

# --- visit cancellation


@emr.command("cancel-visit")
@click.argument("facility")
@click.argument("ma_lk")
def emr_cancel_visit(facility: str, ma_lk: str) -> None:
    """The facility FACILITY withdraws its visit MA_LK: marked cancelled in the record, its re-exam dates remind
    nobody any more."""
    from core.emr.visits import cancel_visit
    from henkham.cli_world import world

    with world().database.uow() as uow:
        done = cancel_visit(uow, facility, ma_lk)
    click.echo(
        f"visit {done.facility_code}/{done.visit_key} (version {done.version}) cancelled; "
        f"{done.re_exams_cancelled} re-exam dates cancelled"
    )
