"""The inbox folder of the HIS exports (a job of ``henkham scheduler``): what a HIS drops by SFTP is imported.

Layout, under ``emr_inbox_dir``::

    <dir>/<facility_code>/            a hospital's drop folder (its 5-digit code, e.g. 96001/)
    <dir>/<facility_code>/done/       files imported with nothing refused, each with <name>.report.json beside it
    <dir>/<facility_code>/failed/     files with a refused visit, a refused file, or of an unknown facility

When a file is complete: a file whose name starts with ``.`` or ends in ``.part``, ``.tmp`` or ``.filepart``
is still being written and is left alone (SFTP clients upload under such a name and rename when done); any
other file is taken once it has not been modified for ``settle_seconds`` (a HIS writing in place). Either way
works; renaming in is the one that cannot be cut short.

Each file is imported through the same service as the CLI and the API (``core.emr.importing.import_bytes``),
confined to the hospital of its folder: a file naming any other facility is refused whole. The report is
written first, then the file is moved next to it: a crash in between, or during the import, leaves the file
where it was, and the next run imports it again, which changes nothing (imports are idempotent per visit).
Only the scheduler's leader runs jobs, so two schedulers never take the same file. A folder whose name is no
hospital's facility code has its files moved to failed/ with a report that says so.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select

from core.booking.models import Hospital
from core.emr.importing import import_bytes
from core.errors import DomainError
from core.timeutil import utcnow
from core.uow import Database

log = logging.getLogger(__name__)

DONE = "done"
FAILED = "failed"
REPORT_SUFFIX = ".report.json"
IN_PROGRESS_SUFFIXES = (".part", ".tmp", ".filepart")

Importer = Callable[..., Any]  # core.emr.importing.import_bytes


@dataclass(frozen=True)
class InboxFile:
    """What became of one file: the folder it went to (done/failed) and where it now is."""

    facility_code: str
    name: str
    outcome: str  # "done" / "failed"
    path: Path
    report_path: Path


def process_inbox(
    db: Database,
    root: Path | str,
    *,
    settle_seconds: float,
    max_bytes: int,
    importer: Importer | None = None,
    now: dt.datetime | None = None,
) -> list[InboxFile]:
    """Import every complete file of every facility folder under ``root``; return what became of each."""
    root = Path(root)
    if not root.is_dir():
        return []
    importer = importer or import_bytes
    hospitals = _hospitals_by_code(db)
    handled = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink()):
        if any((folder / name).is_symlink() for name in (DONE, FAILED)):
            # The HIS's SFTP account made done/ or failed/ point elsewhere: never import, move or write through it.
            log.error("emr inbox: %s/ has a done/ or failed/ that is a symbolic link; its files are left", folder.name)
            continue
        for path in _complete_files(folder, settle_seconds):
            try:
                handled.append(_handle(db, folder.name, path, hospitals, importer, max_bytes, now))
            except Exception:  # a database that is down, a bug: the file stays and is tried again next run
                log.exception("emr inbox: %s/%s could not be handled; left in place", folder.name, path.name)
    return handled


def _hospitals_by_code(db: Database) -> dict[str, int]:
    with db.reader() as uow:
        return dict(uow.session.execute(select(Hospital.facility_code, Hospital.id)).all())


def _complete_files(folder: Path, settle_seconds: float) -> list[Path]:
    now = time.time()
    found = []
    for path in sorted(folder.iterdir()):
        name = path.name
        if name.startswith(".") or name.endswith(IN_PROGRESS_SUFFIXES) or name.endswith(REPORT_SUFFIX):
            continue
        if path.is_symlink() or not path.is_file():  # done/, failed/ and anything that is not a plain file
            continue
        if now - path.stat().st_mtime < settle_seconds:
            continue  # still being written in place
        found.append(path)
    return found


def _handle(
    db: Database,
    code: str,
    path: Path,
    hospitals: dict[str, int],
    importer: Importer,
    max_bytes: int,
    now: dt.datetime | None,
) -> InboxFile:
    hospital_id = hospitals.get(code)
    if hospital_id is None:
        report: dict[str, Any] = _refusal(
            "unknown_facility", f"no hospital of this deployment has the facility code {code!r} of this folder"
        )
        ok = False
    elif path.stat().st_size > max_bytes:
        report, ok = _refusal("too_large", f"the file is larger than {max_bytes} bytes"), False
    else:
        data = path.read_bytes()  # a file, or the gateway's base64 string of one: import_bytes tells them apart
        try:
            result = importer(
                db,
                data,
                channel="inbox",
                filename=path.name,
                hospital_id=hospital_id,
                actor=f"inbox:{code}",
                now=now,
            )
        except DomainError as error:  # a file refused whole
            report, ok = _refusal(error.code, error.message), False
        else:
            report, ok = result.as_dict(), bool(result.ok)
    outcome = DONE if ok else FAILED
    target_dir = path.parent / outcome
    if target_dir.is_symlink():  # made between the check of process_inbox and now
        raise RuntimeError(f"{target_dir} is a symbolic link; the file is left in place")
    target_dir.mkdir(exist_ok=True)
    target = _free_name(target_dir, path.name)
    report_path = target.with_name(target.name + REPORT_SUFFIX)
    _write_atomically(report_path, json.dumps(report, ensure_ascii=False, indent=2, default=str).encode())
    os.replace(path, target)
    log.info("emr inbox: %s/%s -> %s", code, path.name, outcome)
    return InboxFile(code, path.name, outcome, target, report_path)


def _refusal(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}, "at": utcnow().isoformat()}


def _free_name(folder: Path, name: str) -> Path:
    """``folder/name``, or with a time stamp when a file of that name was handled before (a HIS resending)."""
    target = folder / name
    if not target.exists() and not target.with_name(name + REPORT_SUFFIX).exists():
        return target
    stamp = utcnow().strftime("%Y%m%dT%H%M%S%fZ")
    return folder / f"{stamp}-{name}"


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_name("." + path.name + ".tmp")
    with open(partial, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, path)
