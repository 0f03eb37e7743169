"""Acceptance 4 of issue 15, the desk's part: `bench/console.py` stays one command that starts the console on
PostgreSQL, checks booked patients in through Chromium by keyboard alone, and prints the code → checked-in time
(median, p95) and the keystrokes after the code with PASS/FAIL (a tiny run here; the figures come from the full
run)."""

from __future__ import annotations

import re

from bench import console as bench


def test_the_bench_prints_the_desk_figures_with_their_verdicts(capsys):
    assert bench.main(["--bookings", "5", "--codes", "3", "--skip-figures"]) == 0
    out = capsys.readouterr().out
    assert "seeded 5 bookings for today" in out and "over 3 codes" in out
    assert re.search(r"slip shown, field ready: median \d+ ms, p95 \d+ ms", out)
    assert re.search(r"target ≤ 1000 ms \(median and p95\): (PASS|FAIL)", out)
    assert "keystrokes after the code: 2–2 (target 2: Enter, Enter): PASS" in out
    assert "reception timings recorded: 5" in out
    assert "figures:" not in out  # --skip-figures
