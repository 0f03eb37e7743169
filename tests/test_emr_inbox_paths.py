"""The inbox folder against what an SFTP account can make in its own drop folder (review of issue 13): symlinks
out of the inbox, a folder name that is no facility code, a file name that comes back."""

from __future__ import annotations

import pytest

from tests.emr_entry_files import one_visit_file
from tests.test_emr_inbox import TEST, count_visits, drop, report_of, run

pytestmark = pytest.mark.world(days=1)


def test_a_done_folder_that_points_outside_the_inbox_is_never_written_through(db, world, tmp_path):
    inbox, outside = tmp_path / "inbox", tmp_path / "outside"
    outside.mkdir()
    (inbox / TEST).mkdir(parents=True)
    (inbox / TEST / "done").symlink_to(outside)
    drop(inbox, TEST, "visits.xml", one_visit_file(TEST))

    assert run(db, inbox) == []

    assert list(outside.iterdir()) == [], "nothing moved or written outside the inbox"
    assert (inbox / TEST / "visits.xml").exists(), "the file waits where it was"
    assert count_visits(db) == 0, "not imported either"


def test_a_file_that_links_outside_the_inbox_is_left_alone(db, world, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / TEST).mkdir(parents=True)
    secret = tmp_path / "secret.xml"
    secret.write_bytes(one_visit_file(TEST))
    (inbox / TEST / "link.xml").symlink_to(secret)

    assert run(db, inbox) == []
    assert count_visits(db) == 0 and secret.exists()


def test_a_folder_whose_name_is_not_five_digits_fails_its_files_with_a_report(db, world, tmp_path):
    drop(tmp_path, "..evil", "visits.xml", one_visit_file(TEST))

    [handled] = run(db, tmp_path)

    assert handled.outcome == "failed" and report_of(handled.path)["error"]["code"] == "unknown_facility"
    assert count_visits(db) == 0
