"""The Rasa environment (.venv-rasa, Python 3.10) exists with the pinned Rasa and underthesea."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.rasa_env import RASA_PYTHON, ROOT, run_in_rasa


@pytest.mark.needs_rasa
def test_rasa_environment_has_the_pinned_versions():
    out = subprocess.run(
        [
            str(RASA_PYTHON),
            "-c",
            "import sys, rasa, underthesea; print(sys.version_info[:2], rasa.__version__, underthesea.__version__)",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout.strip()
    assert out == "(3, 10) 3.6.21 9.5.0"


def test_finding_python310_honours_the_override_and_explains_failure():
    script = ROOT / "scripts" / "find-python310"
    bad = subprocess.run(
        [str(script)], env={**os.environ, "PYTHON310": "/nonexistent/python"}, capture_output=True, text=True
    )
    assert bad.returncode != 0 and "PYTHON310" in bad.stderr
    none = subprocess.run(
        [str(script)], env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"}, capture_output=True, text=True
    )
    if none.returncode == 0:  # a system python3.10 exists on this machine
        assert none.stdout.strip().endswith("3.10")
    else:
        assert "no Python 3.10" in none.stderr


@pytest.mark.needs_rasa
def test_the_date_parser_runs_in_the_rasa_environment_without_the_application():
    code = (
        "import datetime as dt, sys\n"
        "from bot.nlu.vi_datetime import parse_datetime\n"
        "m = parse_datetime('sáng thứ 2 tuần sau', dt.datetime(2026, 11, 25, 9))\n"
        "assert 'core' not in sys.modules and 'sqlalchemy' not in sys.modules\n"
        "print(m.date.isoformat(), m.part_of_day)\n"
    )
    assert run_in_rasa(code, timeout=60).split() == ["2026-11-30", "morning"]
