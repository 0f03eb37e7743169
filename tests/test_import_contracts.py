"""The layers hold by themselves: the import-linter contracts of pyproject.toml pass on the tree, and a forbidden
import written into a copy of it breaks them (so `make test` would fail on it)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"
PACKAGES = ("core", "bot", "henkham")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports over the packages found in ``tree`` (they come first on the path), with no cache."""
    env = {**os.environ, "PYTHONPATH": str(tree), "COLUMNS": "200"}  # one line per contract
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=tree, env=env, capture_output=True, text=True, timeout=120
    )


def test_the_tree_keeps_every_import_contract():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.fixture
def copy_of_the_tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("core/news/campaigns.py", "from bot.zalo_webhook.models import OutboundMessage", "core is the domain"),
        ("core/booking/rules.py", "import henkham.schema", "core is the domain"),
        ("bot/nlu/folding.py", "from core.timeutil import utcnow", "bot.nlu runs in Rasa"),
        ("bot/nlu/folding.py", "import sqlalchemy", "bot.nlu runs in Rasa"),
        ("bot/actions/changes.py", "from core.booking.models import Appointment", "bot.actions use core services"),
        ("bot/actions/context.py", "from sqlalchemy import select", "bot.actions use core services"),
    ],
)
def test_a_forbidden_import_breaks_the_contracts(copy_of_the_tree: Path, module: str, line: str, contract: str):
    path = copy_of_the_tree / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(copy_of_the_tree)
    assert result.returncode != 0, result.stdout
    broken = [row for row in result.stdout.splitlines() if row.endswith("BROKEN")]
    assert len(broken) == 1 and broken[0].startswith(contract), result.stdout
    assert module.removesuffix(".py").replace("/", ".") in result.stdout, "the report names the offending module"
