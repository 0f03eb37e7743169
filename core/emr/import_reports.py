"""Import reports for records staff: a hospital's imports (when, the file's name, how many visits were stored,
updated, unchanged, refused, with warnings) and an import's items with their problems, page by page.

An import is the hospital's when its key made it (``Import.hospital_id``) or when it holds visits of the
hospital's facility code (a file imported from the command line for several hospitals). Of such a shared file a
hospital sees only its own facility's items, and counts are of those items. Another hospital's import:
OtherHospital (403). The report holds visit keys and the parser's reasons, no patient text; showing an import's
items is audited as a read (``emr_import``).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from sqlalchemy import String, cast, exists, func, or_, select

from core import audit
from core.booking.models import Hospital
from core.errors import NotFound
from core.tenancy import OtherHospital
from core.timeutil import ensure_utc
from core.uow import UnitOfWork

from .models import Import, ImportItem, ImportOutcome

IMPORTS_PER_PAGE = 20
ITEMS_PER_PAGE = 50
OUTCOME_VI = {
    ImportOutcome.IMPORTED.value: "Đã lưu mới",
    ImportOutcome.UPDATED.value: "Đã cập nhật",
    ImportOutcome.UNCHANGED.value: "Không đổi",
    ImportOutcome.REFUSED.value: "Bị từ chối",
}


@dataclass(frozen=True)
class ImportLine:
    id: int
    received_at: dt.datetime
    finished: bool
    format: str
    channel: str
    filename: str
    stored: int
    updated: int
    unchanged: int
    refused: int
    warnings: int
    file_problems: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Problem:
    table: str
    field: str
    row: int | None
    reason: str
    warning: bool


@dataclass(frozen=True)
class ItemLine:
    position: int
    facility_code: str
    visit_key: str
    outcome: str
    outcome_vi: str
    visit_id: int | None
    problems: list[Problem]


@dataclass(frozen=True)
class Page:
    number: int
    pages: int
    total: int


def _facility(uow: UnitOfWork, hospital_id: int) -> str:
    return uow.session.scalar(select(Hospital.facility_code).where(Hospital.id == hospital_id)) or ""


def _hospitals_imports(hospital_id: int, facility: str):
    own_items = exists().where(ImportItem.import_id == Import.id, ImportItem.facility_code == facility)
    return or_(Import.hospital_id == hospital_id, own_items)


def _item_scope(row: Import, hospital_id: int, facility: str):
    """Which items of the import the hospital sees: all of its own key's import, else its facility's."""
    if row.hospital_id == hospital_id:
        return ImportItem.import_id == row.id
    return (ImportItem.import_id == row.id) & (ImportItem.facility_code == facility)


def _page(total: int, number: int, per_page: int) -> Page:
    pages = max(1, math.ceil(total / per_page))
    return Page(min(max(1, number), pages), pages, total)


def _warned():
    return cast(ImportItem.problems, String).like('%"warning"%')


def list_imports(uow: UnitOfWork, hospital_id: int, *, page: int = 1) -> tuple[list[ImportLine], Page]:
    """The hospital's imports, newest first, ``IMPORTS_PER_PAGE`` a page."""
    session = uow.session
    facility = _facility(uow, hospital_id)
    scope = _hospitals_imports(hospital_id, facility)
    at = _page(session.scalar(select(func.count()).select_from(Import).where(scope)) or 0, page, IMPORTS_PER_PAGE)
    rows = list(
        session.scalars(
            select(Import)
            .where(scope)
            .order_by(Import.received_at.desc(), Import.id.desc())
            .offset((at.number - 1) * IMPORTS_PER_PAGE)
            .limit(IMPORTS_PER_PAGE)
        )
    )
    return [_line(uow, row, hospital_id, facility) for row in rows], at


def _line(uow: UnitOfWork, row: Import, hospital_id: int, facility: str) -> ImportLine:
    scope = _item_scope(row, hospital_id, facility)
    counts = dict(
        uow.session.execute(select(ImportItem.outcome, func.count()).where(scope).group_by(ImportItem.outcome)).all()
    )
    warnings = uow.session.scalar(select(func.count()).select_from(ImportItem).where(scope, _warned())) or 0
    return ImportLine(
        id=row.id,
        received_at=ensure_utc(row.received_at),
        finished=row.finished_at is not None,
        format=row.format,
        channel=row.channel,
        filename=row.filename or "",
        stored=counts.get(ImportOutcome.IMPORTED.value, 0),
        updated=counts.get(ImportOutcome.UPDATED.value, 0),
        unchanged=counts.get(ImportOutcome.UNCHANGED.value, 0),
        refused=counts.get(ImportOutcome.REFUSED.value, 0),
        warnings=warnings,
        file_problems=list(row.problems or []) if row.hospital_id == hospital_id or not row.hospital_id else [],
    )


def import_items(
    uow: UnitOfWork, hospital_id: int, import_id: int, *, page: int = 1, problems_only: bool = False
) -> tuple[ImportLine, list[ItemLine], Page]:
    """One import's report and its items in file order, ``ITEMS_PER_PAGE`` a page (``problems_only``: the items
    with a problem or a warning). Unknown: NotFound; another hospital's: OtherHospital."""
    session = uow.session
    row = session.get(Import, import_id)
    if row is None:
        raise NotFound(f"no import {import_id}", "Không có lần nhập này.")
    facility = _facility(uow, hospital_id)
    if not session.scalar(select(exists().where(Import.id == import_id, _hospitals_imports(hospital_id, facility)))):
        raise OtherHospital("import")
    scope = _item_scope(row, hospital_id, facility)
    if problems_only:
        scope = scope & ImportItem.problems.is_not(None) & (cast(ImportItem.problems, String) != "null")
    total = session.scalar(select(func.count()).select_from(ImportItem).where(scope)) or 0
    at = _page(total, page, ITEMS_PER_PAGE)
    items = session.scalars(
        select(ImportItem)
        .where(scope)
        .order_by(ImportItem.position, ImportItem.id)
        .offset((at.number - 1) * ITEMS_PER_PAGE)
        .limit(ITEMS_PER_PAGE)
    )
    lines = [
        ItemLine(
            position=item.position,
            facility_code=item.facility_code,
            visit_key=item.visit_key,
            outcome=item.outcome,
            outcome_vi=OUTCOME_VI.get(item.outcome, item.outcome),
            visit_id=item.visit_id,
            problems=[_problem(p) for p in item.problems or [] if isinstance(p, dict)],
        )
        for item in items
    ]
    audit.record_reads(uow, "emr_import", [import_id])
    return _line(uow, row, hospital_id, facility), lines, at


def _problem(body: dict) -> Problem:
    row = body.get("row")
    return Problem(
        table=str(body.get("table") or ""),
        field=str(body.get("field") or ""),
        row=row if isinstance(row, int) else None,
        reason=str(body.get("reason") or ""),
        warning=bool(body.get("warning")),
    )
