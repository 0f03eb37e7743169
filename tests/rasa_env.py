"""Running a snippet in the Rasa environment (.venv-rasa, Python 3.10), where bot/nlu's components live."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"


def rasa_unavailable() -> str | None:
    """Why the Rasa environment cannot be used here, or None when it can."""
    if not RASA_PYTHON.exists():
        return f"{RASA_PYTHON.parent.parent.name} not created (make test creates it)"
    return None


def require_rasa() -> None:
    """Skip (fail with HENKHAM_REQUIRE_RASA=1) when the Rasa environment is missing."""
    if reason := rasa_unavailable():
        if os.environ.get("HENKHAM_REQUIRE_RASA") == "1":
            pytest.fail(f"HENKHAM_REQUIRE_RASA=1 but {reason}")
        pytest.skip(reason)


def run_in_rasa(code: str, stdin: str | None = None, timeout: float = 300) -> str:
    """Run ``code`` with the project importable and return the last line it printed; skip without the
    environment, fail (showing stderr) if the code fails."""
    require_rasa()
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
