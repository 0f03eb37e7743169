"""Benchmark of the staff console in a real browser, on PostgreSQL: the desk's 20-second path, and the figures.

Run: ``.venv/bin/python bench/console.py`` (``--skip-figures`` to leave the figures page out). It starts the
console stack of the browser tests (tests/console_support.py: web app with the console, Zalo simulator, workers)
on a throw-away PostgreSQL database, seeds ``--bookings`` bookings for today, logs a receptionist in in Debian's
Chromium (Playwright) and, for each of ``--codes`` codes, types the code into the focused field (the scanner's
part, not timed) and then measures, from the Enter after the code to the exam slip shown with the code field
focused again for the next patient:

- the time in the browser (median and p95; target ≤ 1000 ms, the human's part aside), with its two halves
  (Enter → the booking with the check-in button focused; Enter → the slip);
- the keystrokes needed after the code: Enter is pressed until the slip shows, at most 5 times (target 2);
- the reception timings the desk recorded (``checked_in_at - looked_up_at`` per check-in, as the figures read).

Then, unless ``--skip-figures``, the figures page's measure of bench/console_figures.py (``measure_figures()``,
written beside this one) when that module is present. Missing a target prints FAIL; the exit status is 0 unless
something errors.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# `python bench/console.py` puts bench/ first on sys.path; the project root must be importable too.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import TimeoutError as PlaywrightTimeout
from sqlalchemy import select

from core.staff.models import ReceptionTiming
from tests.browser_support import launched_chromium
from tests.console_support import console_page, console_stack, login, make_staff
from tests.desk_support import SLOT_TIMES, book_today

TARGET_MS = 1000
TARGET_KEYSTROKES = 2
MAX_PRESSES = 5
CAPACITY = 2 * len(SLOT_TIMES) * 2  # tests/factories.build_world: 2 departments, 2 seats a slot
# What the desk shows for ``code``: "slip" once the slip of that code is up and the code field focused (ready for
# the next patient), "booking" when its details are up with the check-in button focused, else "other".
STATE_JS = """code => {
  const slip = document.querySelector('#desk-slip');
  const active = document.activeElement ? document.activeElement.id : '';
  if (slip && slip.textContent.includes(code) && active === 'desk-code') return 'slip';
  const booking = document.querySelector('#desk-booking');
  if (booking && booking.textContent.includes(code) && active === 'desk-check-in') return 'booking';
  return 'other';
}"""
WAIT_JS = "([code, before]) => (" + STATE_JS + ")(code) !== before"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def seed(db: Any, count: int) -> list[str]:
    """``count`` bookings for today, round the slots of both departments: their codes."""
    codes = []
    for n in range(count):
        department = ("nhi", "mat")[n % 2]
        hhmm = SLOT_TIMES[(n // 2) % len(SLOT_TIMES)]
        codes.append(book_today(db, department, hhmm, full_name=f"Người Bệnh Đo {n + 1}").code)
    return codes


def desk_path(page: Any, code: str) -> tuple[float, float, int]:
    """Type ``code`` (untimed), then Enter until the slip shows: (ms to the booking, ms to the slip, presses)."""
    page.keyboard.type(code)
    presses = 0
    to_booking = None
    started = time.perf_counter()
    state = page.evaluate(f"({STATE_JS})", code)
    while state != "slip" and presses < MAX_PRESSES:
        page.keyboard.press("Enter")
        presses += 1
        with contextlib.suppress(PlaywrightTimeout):  # no change: the next Enter is counted
            page.wait_for_function(WAIT_JS, arg=[code, state], timeout=5000, polling="raf")
        state = page.evaluate(f"({STATE_JS})", code)
        if state == "booking" and to_booking is None:
            to_booking = (time.perf_counter() - started) * 1000
    total = (time.perf_counter() - started) * 1000
    if state != "slip":
        raise RuntimeError(f"no slip after {presses} presses of Enter for a code")
    return to_booking if to_booking is not None else total, total, presses


def measure_desk(stack: Any, codes: list[str], *, warmup: int = 2) -> dict[str, Any]:
    username, _ = make_staff(stack.db, "receptionist")
    with launched_chromium() as browser, console_page(browser) as page:
        login(page, stack, username)
        page.goto(f"{stack.console_url}/desk")
        page.wait_for_function("() => document.activeElement && document.activeElement.id === 'desk-code'")
        for code in codes[:warmup]:  # the first requests warm the server's and the browser's caches
            desk_path(page, code)
        runs = [desk_path(page, code) for code in codes[warmup:]]
    with stack.db.reader() as uow:
        timings = uow.session.execute(
            select(ReceptionTiming.looked_up_at, ReceptionTiming.checked_in_at).where(
                ReceptionTiming.checked_in_at.is_not(None)
            )
        ).all()
    server = [(row.checked_in_at - row.looked_up_at).total_seconds() * 1000 for row in timings]
    return {
        "n": len(runs),
        "lookup": [r[0] for r in runs],
        "total": [r[1] for r in runs],
        "presses": [r[2] for r in runs],
        "recorded": server,
    }


def report_desk(figures: dict[str, Any]) -> None:
    total, lookup, presses = figures["total"], figures["lookup"], figures["presses"]
    median, p95 = statistics.median(total), percentile(total, 0.95)
    print(f"desk: code → checked in, in Chromium, over {figures['n']} codes (the typing of the code not timed)")
    print(f"  Enter → booking shown, check-in focused: median {statistics.median(lookup):.0f} ms")
    print(f"  Enter → Enter → slip shown, field ready: median {median:.0f} ms, p95 {p95:.0f} ms")
    print(f"  target ≤ {TARGET_MS} ms (median and p95): {verdict(median <= TARGET_MS and p95 <= TARGET_MS)}")
    worst = max(presses)
    print(f"  keystrokes after the code: {min(presses)}–{worst} (target {TARGET_KEYSTROKES}: Enter, Enter): ", end="")
    print(verdict(worst <= TARGET_KEYSTROKES))
    recorded = figures["recorded"]
    if recorded:
        print(
            f"  reception timings recorded: {len(recorded)}, look-up → check-in median "
            f"{statistics.median(recorded):.0f} ms, p90 {percentile(recorded, 0.9):.0f} ms (what the figures read)"
        )


def report_figures() -> None:
    """bench/console_figures.py's measure of the figures page, when that module exists."""
    try:
        module = importlib.import_module("bench.console_figures")
    except ModuleNotFoundError as missing:
        if missing.name not in ("bench.console_figures", "bench"):
            raise
        print("figures: bench/console_figures.py is not there (yet): skipped")
        return
    result = module.measure_figures()
    if isinstance(result, dict):
        print("figures:")
        for key, value in result.items():
            print(f"  {key}: {value}")
    elif result is not None:
        print(result if isinstance(result, str) else "\n".join(map(str, result)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bookings", type=int, default=40, help=f"bookings seeded for today (at most {CAPACITY})")
    parser.add_argument("--codes", type=int, default=30, help="codes checked in and measured")
    parser.add_argument("--skip-figures", action="store_true", help="leave out the figures page's measure")
    args = parser.parse_args(argv)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request would bury the figures
    bookings = max(1, min(args.bookings, CAPACITY))
    codes = max(1, min(args.codes, bookings - 2))
    with (
        tempfile.TemporaryDirectory(prefix="henkham-bench-console-") as folder,
        console_stack(Path(folder), postgres=True) as stack,
    ):
        started = time.perf_counter()
        seeded = seed(stack.db, bookings)
        print(f"seeded {len(seeded)} bookings for today in {time.perf_counter() - started:.1f} s (PostgreSQL)")
        report_desk(measure_desk(stack, seeded[: codes + 2]))
    if not args.skip_figures:
        report_figures()
    return 0


if __name__ == "__main__":
    sys.exit(main())
