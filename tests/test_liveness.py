"""Liveness and graceful stop of the long-running roles: the heartbeat file a supervisor checks (`henkham alive`),
silent when a thread is stuck; SIGTERM lets the current claim finish and takes no new one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

from click.testing import CliRunner

from bot.zalo_webhook import workers
from core.heartbeat import Heartbeat, seconds_since_beat
from henkham.cli import cli
from henkham.migrate import upgrade
from tests.harness import wait_until
from tests.zalo_sim import ROOT


def test_alive_tells_a_fresh_heartbeat_from_a_stale_or_missing_one(tmp_path):
    beat = tmp_path / "run" / "worker-1.alive"
    runner = CliRunner()
    missing = runner.invoke(cli, ["alive", str(beat)])
    assert missing.exit_code == 1 and "no heartbeat" in missing.output
    Heartbeat(beat).beat()
    assert json.loads(beat.read_text())["pid"] == os.getpid()
    fresh = runner.invoke(cli, ["alive", str(beat), "--within", "5"])
    assert fresh.exit_code == 0, fresh.output
    beat.write_text(json.dumps({"pid": 1, "at": time.time() - 120}))
    stale = runner.invoke(cli, ["alive", str(beat), "--within", "30"])
    assert stale.exit_code == 1 and "120 s ago" in stale.output
    assert len([line for line in stale.output.splitlines() if line.strip()]) == 1
    beat.write_text("not json")
    assert seconds_since_beat(beat) is None


def test_the_heartbeat_stops_while_a_thread_is_stuck_in_one_step(tmp_path):
    path = tmp_path / "w.alive"
    stuck, release, stop = threading.Event(), threading.Event(), threading.Event()

    def step() -> int:
        if stuck.is_set():
            release.wait(10)
        return 0

    runner = threading.Thread(
        target=workers.run_loops,
        kwargs={
            "step": step,
            "threads": 2,
            "stop": stop,
            "idle_sleep": 0.05,
            "heartbeat": Heartbeat(path, every_seconds=0.1),
            "stuck_seconds": 1.0,
        },
    )
    runner.start()
    try:
        wait_until(lambda: (seconds_since_beat(path) or 99) < 0.5, timeout=5, what="a heartbeat")
        stuck.set()
        wait_until(lambda: (seconds_since_beat(path) or 0) > 1.5, timeout=8, what="the heartbeat to stop")
        stuck.clear()
        release.set()
        wait_until(lambda: (seconds_since_beat(path) or 99) < 0.5, timeout=5, what="the heartbeat again")
    finally:
        release.set()
        stop.set()
        runner.join(10)
    assert not runner.is_alive()


def test_a_stop_lets_the_step_in_progress_finish_and_starts_no_other():
    stop, started = threading.Event(), threading.Event()
    finished: list[int] = []
    calls = 0

    def step() -> int:
        nonlocal calls
        calls += 1
        started.set()
        time.sleep(0.6)  # a claimed event being handled
        finished.append(calls)
        return 1

    runner = threading.Thread(target=workers.run_loops, kwargs={"step": step, "threads": 1, "stop": stop})
    runner.start()
    started.wait(5)
    stop.set()
    runner.join(10)
    assert finished == [1] and calls == 1, "the claim in hand was finished, no new one taken"


def test_a_worker_process_beats_and_stops_cleanly_on_sigterm(tmp_path):
    url = f"sqlite:///{tmp_path / 'henkham.db'}"
    upgrade(url)
    beat = tmp_path / "worker.alive"
    env = {**os.environ, "HENKHAM_DATABASE_URL": url, "HENKHAM_HEARTBEAT_FILE": str(beat)}
    with (tmp_path / "worker.log").open("wb") as log:
        worker = subprocess.Popen(
            [str(ROOT / ".venv/bin/henkham"), "zalo", "worker", "--threads", "2"], env=env, stdout=log, stderr=log
        )
        try:
            wait_until(lambda: beat.exists(), timeout=30, what="the worker's heartbeat")
            alive = subprocess.run([str(ROOT / ".venv/bin/henkham"), "alive", str(beat), "--within", "10"], env=env)
            assert alive.returncode == 0
            worker.send_signal(signal.SIGTERM)
            assert worker.wait(timeout=15) == 0
            assert not beat.exists(), "stopped on purpose: not to be restarted as a quiet one"
        finally:
            if worker.poll() is None:
                worker.kill()
    assert "finishing the current claims" in Path(tmp_path / "worker.log").read_text()
