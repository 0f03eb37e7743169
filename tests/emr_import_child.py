"""A child process that imports ``COUNT`` visits of tests/emr_records.py in batches of ``BATCH`` (the kill test of
tests/test_emr_importing.py SIGKILLs it mid-file). Run: ``python -m tests.emr_import_child URL COUNT BATCH``."""

from __future__ import annotations

import sys

from core.emr.importing import import_records
from core.uow import Database
from tests.emr_records import visits


def main(url: str, count: int, batch: int) -> int:
    db = Database(url, pool_size=2, max_overflow=0)
    try:
        report = import_records(db, visits(count), channel="cli", filename="killed.xml", batch_size=batch)
    finally:
        db.dispose()
    print(f"imported {report.imported}, unchanged {report.unchanged}, refused {report.refused}", flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
