"""`henkham emr import` on what is not a plain export (review of issue 13): a FIFO, a device, a file over the
parser's limit, a symlink. One `error:` line or one refused-file line, a non-zero exit, nothing read forever."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.emr.models import Import, Visit
from henkham import emr_import_cli
from tests.emr_entry_files import one_visit_file
from tests.test_emr_cli import TEST, count, error_lines, run  # noqa: F401

pytestmark = pytest.mark.world(days=1)


def test_a_fifo_and_a_device_are_one_error_line_and_never_read(run, db, world, tmp_path):  # noqa: F811
    fifo = tmp_path / "drop.xml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer comes: it must not be opened
    for path in (fifo, Path("/dev/zero")):
        result = run("emr", "import", str(path))
        assert result.exit_code == 2, result.output
        assert error_lines(result) == [f"error: cannot read {path}: not a regular file or folder"]
    assert count(db, Import) == 0


def test_a_file_over_the_parsers_limit_is_refused_unread_and_the_others_imported(run, db, world, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(emr_import_cli, "MAX_FILE_BYTES", 10_000)
    big = tmp_path / "big.xml"
    with open(big, "wb") as out:
        out.truncate(10_001)  # sparse: nothing written
    good = tmp_path / "good.xml"
    good.write_bytes(one_visit_file(TEST))

    result = run("emr", "import", str(big), str(good))

    assert result.exit_code == 1, result.output
    assert f"refused file {big}: larger than 10000 bytes; send it in several parts" in result.stdout
    assert count(db, Visit) == 1
    assert count(db, Import) == 1, "the big file was not even recorded"


def test_a_symlink_to_an_export_is_imported_as_the_file(run, db, world, tmp_path):  # noqa: F811
    target = tmp_path / "real.xml"
    target.write_bytes(one_visit_file(TEST))
    link = tmp_path / "link.xml"
    link.symlink_to(target)

    result = run("emr", "import", str(link))

    assert result.exit_code == 0, result.output
    assert count(db, Visit) == 1
