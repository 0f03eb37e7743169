"""Commands of `henkham emr` (henkham/emr_cli.py): ``henkham emr import PATH…`` and ``cancel-visit``.

Files and folders (a folder is read recursively for ``*.xml`` and ``*.json``), each file imported through
core.emr.importing.import_bytes as the API and the inbox do. A file holding the BHXH gateway's single base64
string (fileHSBase64) is recognised by itself; ``--base64`` says so for every file. The summary counts files and
visits imported / updated / unchanged / refused, then one line per refused visit (facility, MA_LK, table, field,
reason) and per refused file; the exit code is 1 when anything was refused.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

import click

from core.emr.gateway import gateway_base64_to_file
from core.emr.importing import ImportReport, import_bytes
from core.emr.records import Problem
from core.emr.xml130 import Limits
from core.errors import DomainError
from henkham.emr_cli import emr

SUFFIXES = (".xml", ".json")
MAX_FILE_BYTES = Limits().max_file_bytes  # what the parser reads at most: a larger file is refused unread
OUTCOMES = ("imported", "updated", "unchanged", "refused")


def files_of(paths: Iterable[Path]) -> list[Path]:
    """Every file named, and every *.xml and *.json under every folder named, in order; a path that cannot be
    read is a one-line error (click.UsageError) before anything is imported."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            try:
                found += sorted(
                    p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES and not _hidden(p, path)
                )
            except OSError as error:
                raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
        elif path.is_file():
            found.append(path)
        elif path.exists():  # a FIFO, a device (/dev/zero), a socket: never read, it may never end
            raise click.UsageError(f"cannot read {path}: not a regular file or folder")
        else:
            raise click.UsageError(f"cannot read {path}: no such file or folder")
    return found


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


@emr.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--base64",
    "as_base64",
    is_flag=True,
    help="Every file holds the gateway's base64 string (fileHSBase64); recognised by itself without this.",
)
def import_command(paths: tuple[Path, ...], as_base64: bool) -> None:
    """Import HIS exports (XML 130/4750 GIAMDINHHS files) and FHIR R4 bundles (*.json): files and folders."""
    files = files_of(paths)
    if not files:
        raise click.UsageError("no *.xml or *.json file in " + ", ".join(str(p) for p in paths))
    for path in files:  # every file readable before any is imported
        _readable(path)

    from henkham.cli_world import world

    database = world().database
    totals: Counter[str] = Counter()
    refusals: list[str] = []
    with click.progressbar(files, label="importing", file=sys.stderr, item_show_func=_name) as bar:
        for path in bar:
            if path.stat().st_size > MAX_FILE_BYTES:
                totals["refused_files"] += 1
                refusals.append(f"refused file {path}: larger than {MAX_FILE_BYTES} bytes; send it in several parts")
                continue
            try:
                data = _read(path, as_base64)
                report = import_bytes(database, data, channel="cli", filename=path.name, actor="cli")
            except DomainError as error:  # the whole file refused (too large, not a submission, …)
                totals["refused_files"] += 1
                refusals.append(f"refused file {path}: {error.message}")
                continue
            for outcome, count in counts_of(report).items():
                totals[outcome] += count
            if not report.ok and file_problems(report):
                totals["refused_files"] += 1
                refusals += [f"refused file {path}: {line}" for line in file_problems(report)]
            refusals += [f"refused {line}" for line in refused_visits(report)]
    click.echo(summary(len(files), totals))
    for line in refusals:
        click.echo(line)
    if refusals or totals["refused"] or totals["refused_files"]:
        sys.exit(1)


def _name(path: Path | None) -> str:
    return path.name if path is not None else ""


def _readable(path: Path) -> None:
    try:
        with open(path, "rb"):
            pass
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None


def _read(path: Path, as_base64: bool) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise click.UsageError(f"cannot read {path}: {error.strerror or error}") from None
    if as_base64:
        try:
            return gateway_base64_to_file(data)
        except ValueError as error:
            raise click.UsageError(f"{path}: {error}") from None
    return data  # the gateway's base64 string as it is: import_bytes recognises it


def summary(files: int, totals: Counter[str]) -> str:
    visits = ", ".join(f"{totals[outcome]} {outcome}" for outcome in OUTCOMES)
    refused_files = f" ({totals['refused_files']} refused whole)" if totals["refused_files"] else ""
    return f"{files} file(s){refused_files}; visits: {visits}"


# --- reading an ImportReport (core.emr.importing) -------------------------------------------------------------
def counts_of(report: ImportReport) -> dict[str, int]:
    return {outcome: getattr(report, outcome) for outcome in OUTCOMES}


def file_problems(report: ImportReport) -> list[str]:
    return [_problem(problem) for problem in report.problems]


def refused_visits(report: ImportReport) -> Iterator[str]:
    """One line per problem of each refused visit: facility, MA_LK, table, field (row) and reason."""
    for item in report.items:
        if item.outcome != "refused":
            continue
        where = f"{item.facility_code or '?'} MA_LK={item.visit_key or '?'}"
        if not item.problems:
            yield f"{where}: refused"
        for problem in item.problems:
            yield f"{where}: {_problem(problem)}"


def _problem(problem: Problem) -> str:
    place = " ".join(part for part in (problem.table, problem.field) if part)
    if problem.row is not None:
        place += f" row {problem.row}"
    return f"{place}: {problem.reason}" if place else problem.reason


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
