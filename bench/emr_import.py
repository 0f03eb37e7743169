"""Benchmark of the clinical record store on PostgreSQL: importing a big HIS file, and reading one person's record.

Run: ``.venv/bin/python bench/emr_import.py`` (or ``make bench-emr``). By default it creates a throw-away
database ``henkham_bench_<random>`` on the local server, migrates it and drops it at the end. It measures:

1. ``core.emr.importing.import_bytes`` on one XML 130/4750 submission file of 10,000 visits written the way a
   .NET HIS writes it (tests/emr_his_files.py: BOM, base64 tables, CDATA; four outpatient visits with drugs,
   an exam, a blood count, a glucose test and an X-ray report to one inpatient stay with course notes,
   discharge paper, summary and re-exam slip), about 140,000 rows across the tables: visits per second end to
   end (parse, person look-ups, storage, report), and the same file again (every visit unchanged);
2. ``core.emr.reading.person_record`` of a person with 50 visits, 200 times through a reader unit of work
   (audit row included), after a VACUUM ANALYZE (as autovacuum would by then): p50 and p99 latency.

Targets of issue 13 on this 2-core machine: at least 500 visits/s, a record fetch p99 of at most 20 ms.
Missing a target is a measurement, not a failure: the exit status is 0 unless something errors.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# `python bench/emr_import.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select, text

from core.audit import Actor
from core.emr import models as m
from core.emr.importing import import_bytes
from core.emr.reading import person_record
from core.emr.xml130 import parse_submission
from core.uow import Database
from henkham.migrate import upgrade
from tests import emr_his_files as his
from tests.harness import BenchError, add_database_arguments, bench_main, log

ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
FACILITY = "79001"
TARGET_VISITS_PER_S = 500.0
TARGET_READ_P99_MS = 20.0
READER = Actor(kind="api_client", client_id=1, client_name="bench-his")
ROW_TABLES = (
    m.Visit,
    m.Diagnosis,
    m.Medication,
    m.Service,
    m.Result,
    m.CourseNote,
    m.Document,
    m.ReExamSlip,
)

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng")
GIVEN = ("Văn An", "Thị Bình", "Minh Châu", "Hữu Dũng", "Thu Giang", "Ngọc Hà", "Quốc Khánh", "Thị Lan")


def his_visit(n: int, person: int) -> his.Visit:
    """Visit ``n`` of person ``person``: four outpatient visits to one inpatient stay, on spread dates."""
    template = his.inpatient if n % 5 == 0 else his.outpatient
    day = 1 + n % 28
    month = 1 + (n // 28) % 12
    year = 2020 + (n // 336) % 6
    stamp = f"{year}{month:02d}{day:02d}"
    return template(
        ma_lk=f"BENCH{n:07d}",
        facility_code=FACILITY,
        patient_code=f"BN{person:08d}",
        name=f"{FAMILY[person % len(FAMILY)]} {GIVEN[person % len(GIVEN)]}",
        cccd=f"079{person % 100:03d}{person:06d}",
        birth=f"{1940 + person % 70}{1 + person % 12:02d}{1 + person % 28:02d}0000",
        sex="1" if person % 2 else "2",
        phone=f"091{person:07d}"[:10],
        cards=f"DN479{person:010d}",
        arrived=f"{stamp}0730",
        admitted=f"{stamp}0830" if template is his.inpatient else "",
        discharged=f"{stamp}1030" if template is his.outpatient else f"{stamp}2300",
        re_exam_dates="",
    )


def build_file(visits: int, *, people: int, start: int = 0, person: int | None = None) -> bytes:
    specs = [his_visit(n, person if person is not None else n % people) for n in range(start, start + visits)]
    return his.submission_bytes(specs, facility_code=FACILITY)


def row_count(db: Database) -> int:
    with db.uow() as uow:
        return sum(uow.session.scalar(select(func.count()).select_from(model)) for model in ROW_TABLES)


def settle(db: Database) -> None:
    """VACUUM ANALYZE before the reads, as autovacuum would soon after a bulk import (bench/booking.py does
    the same between its phases): the reads are then measured on current statistics, and no autovacuum
    starts inside the measuring window."""
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def run(url: str, args: argparse.Namespace, figures: dict[str, Any]) -> int:
    if not url.startswith("postgresql"):
        raise BenchError("this bench measures PostgreSQL: give a postgresql:// --database-url")
    upgrade(url)
    db = Database(url)
    try:
        with db.engine.connect() as conn:
            version = conn.scalar(text("SHOW server_version"))
        log(f"building a submission file of {args.visits:,} visits for {args.people:,} people")
        data = build_file(args.visits, people=args.people)
        log(f"file: {len(data) / 1e6:.1f} MB")

        started = time.perf_counter()
        parsed = parse_submission(data)
        parse_s = time.perf_counter() - started
        if len(parsed.visits) != args.visits or any(v.record is None for v in parsed.visits):
            raise BenchError("the parser did not read every visit of the bench file")
        del parsed

        rows_before = row_count(db)
        started = time.perf_counter()
        report = import_bytes(db, data, channel="cli", filename="bench.xml")
        import_s = time.perf_counter() - started
        rows = row_count(db) - rows_before
        if report.imported != args.visits:
            raise BenchError(f"expected {args.visits} visits imported, got {report.as_dict()['imported']}")
        rate = args.visits / import_s
        log(f"1. import: {args.visits:,} visits, {rows:,} rows in {import_s:.2f} s ({rate:,.0f} visits/s)")

        started = time.perf_counter()
        again = import_bytes(db, data, channel="cli", filename="bench.xml")
        again_s = time.perf_counter() - started
        if again.unchanged != args.visits:
            raise BenchError("the second import of the same file changed something")
        log(f"   again: every visit unchanged in {again_s:.2f} s ({args.visits / again_s:,.0f} visits/s)")

        del data, report, again
        gc.collect()  # the reads below run as in a server process, without the import's million objects around

        # 2. One person with 50 visits (outpatient and inpatient, every table), read many times.
        person_file = build_file(args.person_visits, people=1, start=args.visits + 1, person=999_999)
        person_report = import_bytes(db, person_file, channel="cli", filename="person.xml")
        visit_id = person_report.items[0].visit_id
        settle(db)
        with db.uow() as uow:
            person_id = uow.session.scalar(select(m.Visit.person_id).where(m.Visit.id == visit_id))
        for _ in range(5):  # warm-up: connections, statement caches
            with db.reader() as uow:
                stored = person_record(uow, person_id, reader=READER, purpose="bench")
        if len(stored.record.visits) != args.person_visits:
            raise BenchError(f"the person's record has {len(stored.record.visits)} visits")
        latencies = []
        for _ in range(args.reads):
            started = time.perf_counter()
            with db.reader() as uow:
                person_record(uow, person_id, reader=READER, purpose="bench")
            latencies.append((time.perf_counter() - started) * 1000)
        p50, p99 = statistics.median(latencies), percentile(latencies, 99)
        log(f"2. person_record of {args.person_visits} visits: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    finally:
        db.dispose()

    import_verdict = "PASS" if rate >= TARGET_VISITS_PER_S else "FAIL"
    read_verdict = "PASS" if p99 <= TARGET_READ_P99_MS else "FAIL"
    print()
    print(f"Results: PostgreSQL {version}, nproc={os.cpu_count()}")
    print()
    print(f"  {'measure':<44} {'figure':>16}  {'target':<16} verdict")
    print(f"  {'import_bytes, 10,000-visit file':<44} {rate:>10,.0f} v/s  {'≥ 500 visits/s':<16} {import_verdict}")
    print(f"  {'  rows written':<44} {rows:>16,}")
    print(f"  {'  of which parsing the file (alone)':<44} {parse_s:>14.2f} s")
    print(f"  {'  the same file again (all unchanged)':<44} {args.visits / again_s:>10,.0f} v/s")
    print(f"  {'person_record, 50 visits, p50':<44} {p50:>13.2f} ms")
    print(f"  {'person_record, 50 visits, p99':<44} {p99:>13.2f} ms  {'≤ 20 ms':<16} {read_verdict}")
    print()
    print(f"targets: import visits/s {import_verdict}, record fetch p99 {read_verdict}")
    figures.update(
        visits=args.visits,
        rows=rows,
        import_seconds=round(import_s, 2),
        visits_per_s=round(rate),
        parse_seconds=round(parse_s, 2),
        unchanged_visits_per_s=round(args.visits / again_s),
        read_p50_ms=round(p50, 2),
        read_p99_ms=round(p99, 2),
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    add_database_arguments(parser, ADMIN_URL, "migrated and filled with the bench's visits, not dropped", logs=False)
    parser.add_argument("--visits", type=int, default=10_000, help="visits in the imported file (10,000)")
    parser.add_argument("--people", type=int, default=4_000, help="distinct people among them (4,000)")
    parser.add_argument("--person-visits", type=int, default=50, help="visits of the person read back (50)")
    parser.add_argument("--reads", type=int, default=200, help="reads of that person's record (200)")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {}
    return bench_main(args, lambda bench: run(bench.url, args, figures), name="emr", figures=figures)


if __name__ == "__main__":
    sys.exit(main())
