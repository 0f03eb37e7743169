"""`henkham services …`: the services a hospital does and their departments (thin over core.booking.services)."""

from __future__ import annotations

import csv
import io

import click

from henkham.cli_world import world

COLUMNS = ("name", "department")


@click.group()
def services() -> None:
    """The services a hospital does, by the names patients use, and the department that does each."""


@services.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--hospital", required=True, help="The hospital's slug.")
def services_load(path: str, hospital: str) -> None:
    """Replace the hospital's service catalogue with a CSV file of columns name,department (a department slug).
    The names learnt from its imported visits stay; one bad row changes nothing."""
    from core.booking.services import load_catalogue

    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            text = handle.read()
    except UnicodeDecodeError:
        raise click.UsageError(f"{path} is not UTF-8 text") from None
    reader = csv.DictReader(io.StringIO(text))
    try:
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise click.UsageError(f"{path}: the first line must be {','.join(COLUMNS)}")
        rows = [(row["name"] or "", row["department"] or "") for row in reader]
    except csv.Error as error:  # a NUL byte, a field over the csv module's limit
        raise click.UsageError(f"{path}: {error} (after line {reader.line_num})") from None
    with world().database.uow() as uow:
        count = load_catalogue(uow, hospital, rows)
    click.echo(f"{hospital}: {count} services in the catalogue")
