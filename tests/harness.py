"""The one harness of the tests and the benchmarks: waiting on an event, free ports, stopping processes.

It lives under ``tests/`` (a package whose parent, the project root, both pytest and the bench scripts put
on ``sys.path``) and imports nothing from pytest, so ``bench/*.py`` use it as they are.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Callable

import requests

HOST = "127.0.0.1"


class NotReady(AssertionError):
    """What :func:`wait_until` raises: the awaited event did not happen (or its process died first)."""


def wait_until(
    ready: Callable[[], object],
    *,
    timeout: float,
    what: str,
    alive: Callable[[], bool] | None = None,
    details: Callable[[], str] | None = None,
    every: float = 0.05,
) -> None:
    """Return as soon as ``ready()`` is true; fail after ``timeout`` seconds, or as soon as ``alive()`` is
    false, naming ``what`` was awaited (and ``details()``, e.g. the tail of a log)."""
    deadline = time.monotonic() + timeout
    while not ready():
        problem = None
        if alive is not None and not alive():
            problem = f"{what}: the process exited"
        elif time.monotonic() > deadline:
            problem = f"{what}: not ready after {timeout:g} s"
        if problem:
            raise NotReady(problem + (f"\n{details()}" if details else ""))
        time.sleep(every)


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers a GET with a 2xx status (False while nothing listens there yet)."""
    try:
        return requests.get(url, timeout=timeout).ok
    except requests.RequestException:
        return False


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate ``process`` (kill it if it does not stop within ``timeout``) and reap it."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)
