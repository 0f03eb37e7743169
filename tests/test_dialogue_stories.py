"""The Rasa project itself: its data validates cleanly, and the test stories of every flow pass against
the trained model (``rasa test core``; the model is trained first if missing or stale)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.rasa_env import ROOT

pytestmark = pytest.mark.needs_rasa  # skipped without .venv-rasa, failed when HENKHAM_REQUIRE_RASA=1

RASA = str(ROOT / ".venv-rasa/bin/rasa")
ENV_SCRIPT = 'export PYTHONPATH="$PWD" TF_CPP_MIN_LOG_LEVEL=3 SQLALCHEMY_SILENCE_UBER_WARNING=1; '


def _run(command: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", ENV_SCRIPT + command], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


def test_rasa_data_validate_is_clean() -> None:
    result = _run(
        f"{RASA} data validate --fail-on-warnings --config bot/config.yml --domain bot/domain.yml --data data/training",
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_every_flow_of_the_test_stories_passes(tmp_path: Path) -> None:
    trained = _run("scripts/train --if-stale", timeout=1800)
    assert trained.returncode == 0, trained.stdout[-3000:] + trained.stderr[-3000:]
    result = _run(
        f"{RASA} test core --model models/henkham.tar.gz --stories data/tests/test_stories.yml "
        f"--endpoints bot/endpoints.yml --out {tmp_path} --fail-on-prediction-errors",
        timeout=900,
    )
    failed = tmp_path / "failed_test_stories.yml"
    report = failed.read_text() if failed.exists() else ""
    assert result.returncode == 0, report[-4000:] + result.stdout[-2000:] + result.stderr[-2000:]
    stories = json.loads((tmp_path / "story_report.json").read_text())
    assert stories["conversation_accuracy"]["accuracy"] == 1.0
