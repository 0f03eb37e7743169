"""The README's API walk-through, run as printed against a real server (gunicorn, SQLite, demo data)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.harness import answers, free_port, stop_process, wait_until

ROOT = Path(__file__).resolve().parent.parent
HENKHAM = Path(sys.executable).parent / "henkham"


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Trying the API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, flags=re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db_url = f"sqlite:///{tmp_path_factory.mktemp('readme') / 'henkham.db'}"
    env = {**os.environ, "HENKHAM_DATABASE_URL": db_url}
    subprocess.run([HENKHAM, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([HENKHAM, "demo", "load", "--days", "4"], env=env, check=True, capture_output=True)
    port = free_port()
    proc = subprocess.Popen(
        [HENKHAM, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(  # a cold first start (fresh venv, busy machine) takes seconds
            lambda: answers(f"http://127.0.0.1:{port}/healthz", timeout=2),
            timeout=60,
            what="henkham serve",
            alive=lambda: proc.poll() is None,
        )
        yield port, env
    finally:
        stop_process(proc, timeout=10)


def test_readme_walkthrough_works_as_printed(server):
    port, env = server
    blocks = _readme_blocks()
    assert len(blocks) == 4, "catalogue, booking, check-in, cancel"
    script = ""
    for i, block in enumerate(blocks):
        script += block.replace("127.0.0.1:8000", f"127.0.0.1:{port}") + f'\necho "\n@@block {i}"\n'
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    outputs = result.stdout.split("@@block")
    catalogue, booking, check_in, cancel = outputs[0], outputs[1], outputs[2], outputs[3]
    assert "bvdk-tinh-demo" in catalogue and '"slots"' in catalogue, result.stderr
    assert '"status":"booked"' in booking and '"queue_number"' in booking, result.stderr
    if "checked in:" in check_in:  # the first free slot is today (local): the desk checks the patient in
        assert "queue number" in check_in
        assert '"code":"not_changeable"' in cancel, "a checked-in visit can no longer be cancelled"
    else:  # the first free slot is on a later day: the desk refuses politely and the patient may cancel
        assert "error: this appointment is for" in result.stderr
        assert '"status":"cancelled"' in cancel
