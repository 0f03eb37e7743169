"""`henkham backup create DIR` / `henkham backup restore DIR`: henkham's database and Rasa's tracker store
(henkham/backup.py does the work; README, section "Backups")."""

from __future__ import annotations

from pathlib import Path

import click

from henkham.backup import BackupError, Store, create, restore
from henkham.cli_world import world


def _stores() -> list[Store]:
    settings = world().settings
    return [Store("henkham", settings.database_url), Store("rasa", settings.rasa_tracker_store_url)]


@click.group()
def backup() -> None:
    """Back up the database (and Rasa's conversations), or restore a backup into an empty server."""


@backup.command("create")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def backup_create(folder: Path) -> None:
    """Dump every database into FOLDER (new or empty), with a manifest of checksums and row counts."""
    try:
        manifest = create(folder, _stores())
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    for role, entry in manifest["stores"].items():
        click.echo(f"{role}: {entry['file']}, {sum(entry['rows'].values())} rows in {len(entry['rows'])} tables")


@backup.command("restore")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
def backup_restore(folder: Path) -> None:
    """Restore the backup in FOLDER into the configured databases, which must be empty (created if missing)."""
    try:
        restored = restore(folder, _stores())
    except BackupError as error:
        raise click.ClickException(str(error)) from None
    for role, counts in restored.items():
        click.echo(f"{role}: restored, {sum(counts.values())} rows in {len(counts)} tables, as in the manifest")
