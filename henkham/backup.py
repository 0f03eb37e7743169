"""Backups of henkham's database and Rasa's tracker store, and their restore into an empty server.

PostgreSQL: ``pg_dump --format=custom`` of each database, restored with ``pg_restore`` (the server's own tools:
consistent snapshots taken while every process keeps running, nothing written by hand). SQLite (one machine):
the SQLite backup API, a consistent copy of a live file. Beside the dumps, ``manifest.json`` lists each file's
SHA-256 and the row count of every table at the time of the dump; a restore checks the files first and the
counts after, and refuses a target that already holds tables (it never merges into or overwrites a database).

File names are fixed (``henkham.dump``, ``rasa.dump`` …): nothing read from a manifest ever becomes a path.
Passwords go to the tools through ``PGPASSWORD``, never on their command line.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from core.db import database_exists, ensure_database, normalise_url

MANIFEST = "manifest.json"
FORMAT = 1


class BackupError(RuntimeError):
    """A backup or restore that cannot go ahead (one line for the command line)."""


@dataclass(frozen=True)
class Store:
    """One database of the backup: its role (``henkham`` or ``rasa``) and URL."""

    role: str
    url: str

    @property
    def dialect(self) -> str:
        return make_url(normalise_url(self.url)).get_backend_name()

    @property
    def file(self) -> str:
        return f"{self.role}.dump" if self.dialect == "postgresql" else f"{self.role}.db"


def row_counts(url: str) -> dict[str, int]:
    """Rows in every table of the database ``url`` (empty: no tables, or no database file)."""
    target = make_url(normalise_url(url))
    if target.get_backend_name() == "sqlite" and not Path(target.database or "").exists():
        return {}
    engine = create_engine(target)
    try:
        with engine.connect() as connection:
            return _counts(connection)
    finally:
        engine.dispose()


def _counts(connection: Connection) -> dict[str, int]:
    quote = connection.dialect.identifier_preparer.quote
    return {
        name: int(connection.scalar(text(f"SELECT count(*) FROM {quote(name)}")) or 0)
        for name in sorted(inspect(connection).get_table_names())
    }


def _dump_postgresql(url: str, path: Path) -> dict[str, int]:
    """``pg_dump`` of ``url`` into ``path`` and the row counts of the very snapshot it dumped: the counts are
    taken in a repeatable-read transaction whose snapshot pg_dump is given (``--snapshot``), so they match the
    dump while every process keeps writing."""
    engine = create_engine(make_url(normalise_url(url)), isolation_level="REPEATABLE READ")
    try:
        with engine.connect() as connection:
            snapshot = connection.scalar(text("SELECT pg_export_snapshot()"))
            counts = _counts(connection)
            _run(
                [
                    "pg_dump",
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    "--file",
                    str(path),
                ],
                url,
            )
            connection.rollback()
        return counts
    finally:
        engine.dispose()


def create(folder: Path, stores: list[Store]) -> dict:
    """Dump ``stores`` into ``folder`` (new, or empty) with the manifest; returns the manifest."""
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: a backup goes into a new folder")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.chmod(0o700)  # every patient's record is in it: its owner only
    previous = os.umask(0o077)  # and each file the tools write there
    try:
        return _create(folder, stores)
    finally:
        os.umask(previous)


def _create(folder: Path, stores: list[Store]) -> dict:
    manifest: dict = {"format": FORMAT, "created_at": dt.datetime.now(dt.UTC).isoformat(), "stores": {}}
    for store in stores:
        if not database_exists(store.url):
            continue  # e.g. no Rasa server has run yet: nothing to keep
        path = folder / store.file
        if store.dialect == "postgresql":
            counts = _dump_postgresql(store.url, path)
        else:
            _sqlite_copy(Path(make_url(store.url).database or ""), path)
            counts = row_counts(f"sqlite:///{path}")
        manifest["stores"][store.role] = {
            "dialect": store.dialect,
            "file": store.file,
            "sha256": _sha256(path),
            "rows": counts,
        }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
    return manifest


def restore(folder: Path, stores: list[Store]) -> dict[str, dict[str, int]]:
    """Restore the backup in ``folder`` into ``stores`` (each empty; a PostgreSQL database is created when
    missing); returns the row counts found after, which equal the manifest's."""
    manifest = read_manifest(folder)
    restored: dict[str, dict[str, int]] = {}
    for store in stores:
        entry = manifest["stores"].get(store.role)
        if entry is None:
            continue
        if entry["dialect"] != store.dialect:
            raise BackupError(f"the {store.role} backup is of {entry['dialect']}, the target is {store.dialect}")
        path = folder / store.file  # a fixed name: the manifest names no path
        if _sha256(path) != entry["sha256"]:
            raise BackupError(f"{store.file} does not match its checksum in the manifest (damaged or altered)")
        if store.dialect == "postgresql":
            ensure_database(store.url)
            if row_counts(store.url):
                raise BackupError(f"the {store.role} database already holds tables: restore into an empty one")
            _run(
                ["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction", "--dbname"],
                store.url,
                str(path),
            )
        else:
            target = Path(make_url(store.url).database or "")
            if target.exists() and target.stat().st_size:
                raise BackupError(f"{target} exists: restore into a new file")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        found = row_counts(store.url)
        if found != entry["rows"]:
            missing = sorted(t for t in entry["rows"] if found.get(t) != entry["rows"][t])
            raise BackupError(f"the restored {store.role} database differs from the backup in: {', '.join(missing)}")
        restored[store.role] = found
    return restored


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{folder} holds no {MANIFEST}: not a henkham backup") from None
    except (OSError, ValueError):
        raise BackupError(f"{folder / MANIFEST} cannot be read") from None
    stores = manifest.get("stores") if isinstance(manifest, dict) else None
    if not isinstance(stores, dict) or manifest.get("format") != FORMAT or not all(map(_entry_ok, stores.values())):
        raise BackupError(f"{folder / MANIFEST} is not a manifest this version reads")
    return manifest


def _entry_ok(entry: object) -> bool:
    return (
        isinstance(entry, dict)
        and entry.get("dialect") in ("postgresql", "sqlite")
        and isinstance(entry.get("sha256"), str)
        and isinstance(entry.get("rows"), dict)
        and all(isinstance(k, str) and isinstance(v, int) for k, v in entry["rows"].items())
    )


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The libpq connection string of ``url`` without its password, and the environment that carries it."""
    target: URL = make_url(normalise_url(url))
    env = dict(os.environ)
    if target.password:
        env["PGPASSWORD"] = str(target.password)
    plain = target.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return plain, env


def _run(command: list[str], url: str, *rest: str) -> None:
    dsn, env = _libpq(url)
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(f"{tool} is not installed (PostgreSQL's client tools: apt-get install postgresql-client)")
    done = subprocess.run([*command, dsn, *rest], env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["failed"])[-1]
        raise BackupError(f"{tool}: {last.replace(dsn, '<database>')}")


def _sqlite_copy(source: Path, target: Path) -> None:
    live, copy = sqlite3.connect(source), sqlite3.connect(target)
    try:
        live.backup(copy)
    finally:
        copy.close()
        live.close()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as file:
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
    except FileNotFoundError:
        raise BackupError(f"{path.name} is missing from the backup") from None
    return digest.hexdigest()
