"""`henkham staff …`: staff accounts of the console, starting with the first admin (thin over core.staff)."""

from __future__ import annotations

import sys

import click

from core.staff.roles import ROLES
from henkham.cli_world import world


@click.group()
def staff() -> None:
    """Staff accounts of the console (/staff)."""


@staff.command("create")
@click.option("--username", required=True, help="Login name: 3-60 of a-z, 0-9, '.', '_', '-'.")
@click.option("--name", "full_name", required=True, help="The person's full name, as staff see it.")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--hospital", help="The hospital's slug (every role but province_admin).")
@click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin (else it is prompted)."
)
def staff_create(username: str, full_name: str, role: str, hospital: str | None, password_stdin: bool) -> None:
    """Create a staff account (the first hospital_admin or province_admin creates the others in the console)."""
    from core.staff.accounts import create_staff

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with world().database.uow() as uow:
        view = create_staff(
            uow, username=username, password=password, role=role, full_name=full_name, hospital_slug=hospital
        )
    where = f" at {view.hospital_slug}" if view.hospital_slug else " (every hospital)"
    click.echo(f"created staff account {view.username}: {view.role}{where}; log in at /staff/login")


@staff.command("list")
@click.option("--hospital", help="Only this hospital's accounts (slug).")
def staff_list(hospital: str | None) -> None:
    """The staff accounts: username, role, hospital, state (never a password)."""
    from core.booking.catalogue import find_hospital
    from core.staff.accounts import list_staff

    with world().database.reader() as uow:
        hospital_id = find_hospital(uow, hospital).id if hospital else None
        rows = list_staff(uow, hospital_id)
    for view in rows:
        state = "active" if view.active else "deactivated"
        click.echo(f"{view.username}\t{view.role}\t{view.hospital_slug or '-'}\t{state}")
