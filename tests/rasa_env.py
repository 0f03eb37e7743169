"""Running a snippet in the Rasa environment (.venv-rasa, Python 3.10), where bot/nlu's components live."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def run_in_rasa(code: str, stdin: str | None = None, timeout: float = 300) -> str:
    """Run ``code`` with the project importable and return the last line it printed; skip without the
    environment, fail (showing stderr) if the code fails."""
    if not RASA_PYTHON.exists():
        pytest.skip(".venv-rasa not created (make test creates it)")
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", code],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={
            "PYTHONPATH": str(ROOT),
            "TF_CPP_MIN_LOG_LEVEL": "3",
            "PATH": "/usr/bin:/bin",
            "HOME": os.environ.get("HOME", "/tmp"),
        },
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip().splitlines()[-1]
