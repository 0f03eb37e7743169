"""Benchmark of the XML 130/4750 parser alone (core.emr.xml130), no database.

Run: ``.venv/bin/python bench/emr_parse.py [--visits 1000] [--messy] [--repeat 3]``. It builds a GIAMDINHHS file
of typical outpatient visits with tests/emr_his_files.py (two drugs, four services, five result lines: ~11 rows)
and reports the best of the repeats (CPU time of this process, so that other processes on a shared machine
count less): file size, visits per second, microseconds per visit and per row, the peak memory Python
allocated while parsing (tracemalloc) and how much the peak RSS of a fresh process grows while it parses the
file (libxml2's memory included). The import target of issue 13 is
>= 500 visits/s end to end including the database, so parsing should stay well under 0.5 ms per visit.
"""

from __future__ import annotations

import argparse
import gc
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

# `python bench/emr_parse.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.emr.xml130 import parse_submission
from tests import emr_his_files as his


def build(visits: int, *, messy: bool) -> bytes:
    style = his.MESSY if messy else his.Style()
    specs = [
        his.outpatient(ma_lk=f"LK{index:07d}", patient_code=f"BN{index:07d}", phone=f"09{index:08d}")
        for index in range(visits)
    ]
    return his.submission_bytes(specs, style=style)


_MEASURE_RSS = """
import sys
sys.path.insert(0, sys.argv[2])
from core.emr.xml130 import parse_submission


def status(key):
    with open("/proc/self/status") as file:
        return next(int(line.split()[1]) for line in file if line.startswith(key + ":"))


data = open(sys.argv[1], "rb").read()
with open("/proc/self/clear_refs", "w") as file:
    file.write("5")  # reset the peak (VmHWM) to the current RSS
before = status("VmRSS")
parsed = parse_submission(data)
print(status("VmHWM") - before)
"""


def _rss_growth(data: bytes) -> int:
    """KiB the peak RSS of a fresh process grows by while it parses the file (libxml2's memory included: the
    container is streamed, so this follows the records kept, not the size of the file)."""
    with tempfile.NamedTemporaryFile(suffix=".xml") as file:
        file.write(data)
        file.flush()
        root = str(Path(__file__).resolve().parent.parent)
        out = subprocess.run(
            [sys.executable, "-c", _MEASURE_RSS, file.name, root], capture_output=True, text=True, check=True
        )
    return int(out.stdout.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visits", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--messy", action="store_true", help="NFD, wrapped base64, 14-char dates, stray spaces")
    parser.add_argument("--no-gc", action="store_true", help="parse with the cyclic garbage collector off")
    args = parser.parse_args(argv)

    data = build(args.visits, messy=args.messy)
    parsed = parse_submission(data)
    kept = sum(1 for visit in parsed.visits if visit.record is not None)
    rows = sum(
        len(v.record.medications) + len(v.record.services) + len(v.record.results)
        for v in parsed.visits
        if v.record is not None
    )
    assert kept == args.visits and not parsed.problems, (kept, parsed.problems)

    if args.no_gc:
        gc.disable()
    best = float("inf")
    for _ in range(args.repeat):
        start = time.process_time()
        parse_submission(data)
        best = min(best, time.process_time() - start)

    gc.enable()
    tracemalloc.start()
    parse_submission(data)
    _current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    kind = "messy" if args.messy else "clean"
    print(f"python {platform.python_version()} on {platform.machine()}, {kind} file{', gc off' if args.no_gc else ''}")
    print(f"file: {len(data) / 1e6:.1f} MB, {args.visits} visits, {rows / args.visits:.0f} rows per visit")
    print(f"parse: {best:.3f} s best of {args.repeat} = {args.visits / best:,.0f} visits/s")
    print(f"       {best / args.visits * 1e6:.0f} us per visit, {best / rows * 1e6:.1f} us per row")
    print(f"peak Python memory while parsing: {peak / 1e6:.1f} MB (records of all visits included)")
    print(f"process peak RSS growth while parsing, in a fresh process: {_rss_growth(data) / 1024:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
