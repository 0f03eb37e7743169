"""Retention of the raw imported files (a job of ``henkham scheduler``).

An import keeps the bytes it was given (``ImportFile``) for ``emr_raw_retention_days``, for a records clerk who
has to look at what a HIS really sent; after that the bytes are deleted and ``Import.raw_deleted_at`` says when.
The parsed record (persons, visits and their tables) and the import's report stay: only the raw file goes.
Deleting in batches keeps each transaction short; a crash between batches leaves nothing half done (the rows of
one batch go together with the stamp of their imports).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import delete, select, update

from core.timeutil import utcnow
from core.uow import Database

from .models import Import, ImportFile

log = logging.getLogger(__name__)

BATCH = 200


def delete_expired_raw_files(
    db: Database, *, retention_days: float, now: dt.datetime | None = None, batch: int = BATCH
) -> int:
    """Delete the raw files of imports received more than ``retention_days`` ago; return how many went."""
    now = now or utcnow()
    cutoff = now - dt.timedelta(days=retention_days)
    deleted = 0
    while True:
        with db.uow() as uow:
            session = uow.session
            ids = list(
                session.scalars(
                    select(ImportFile.import_id)
                    .join(Import, Import.id == ImportFile.import_id)
                    .where(Import.received_at < cutoff)
                    .order_by(ImportFile.import_id)
                    .limit(batch)
                )
            )
            if not ids:
                break
            session.execute(delete(ImportFile).where(ImportFile.import_id.in_(ids)))
            session.execute(update(Import).where(Import.id.in_(ids)).values(raw_deleted_at=now))
            uow.commit()
        deleted += len(ids)
    if deleted:
        log.info("emr retention: deleted the raw files of %d import(s) received before %s", deleted, cutoff)
    return deleted
