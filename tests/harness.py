"""The one harness of the tests and the benchmarks: waiting on an event, threads released at once, free ports,
a WSGI app served in a thread, subprocesses with a log each, throw-away PostgreSQL databases, and the
scaffolding of a bench script's ``main()``.

It lives in ``tests/`` (a package; the project root is on ``sys.path`` for pytest and for the bench scripts,
which put it there themselves) and imports nothing from pytest or the application, so ``bench/*.py`` use it
unchanged: the tests are its larger user, and a bench reaching into ``tests/`` keeps the tests' package the
one place where this scaffolding is written.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import requests
from werkzeug.serving import make_server

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


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


@contextlib.contextmanager
def stopping_thread(
    run: Callable[[threading.Event], object], what: str, timeout: float = 15
) -> Iterator[threading.Event]:
    """Runs ``run(stop)`` in a thread; on leaving, sets ``stop`` and asserts (``what``) that the thread ends."""
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(stop,), daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(timeout=timeout)
        assert not thread.is_alive(), what


def run_together(work: Callable[[], T], count: int, *, timeout: float = 120) -> list[T]:
    """Call ``work`` in ``count`` threads released at the same moment (a barrier) and wait for them all; what
    they returned, in the order they finished. The first exception any of them raised is raised here, once
    all have ended (or ``timeout`` seconds have passed: an AssertionError)."""
    start = threading.Barrier(count)
    results: list[T] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            start.wait(timeout=timeout)
            results.append(work())
        except BaseException as error:  # raised below, in the caller's thread
            errors.append(error)

    threads = [threading.Thread(target=one, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), f"{count} threads: not all ended in {timeout:g} s"
    if errors:
        raise errors[0]
    return results


def free_port() -> int:
    """A TCP port nobody listens on at 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving_app(app: Callable[..., Any]) -> Iterator[str]:
    """Serve a WSGI app (the web app, a stand-in for Rasa or for a webhook) over real HTTP in a thread; yields
    its base URL."""
    server = make_server(HOST, free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def answers(url: str, timeout: float = 1.0) -> bool:
    """Whether ``url`` answers a GET with a 2xx status (False while nothing listens there yet)."""
    try:
        return requests.get(url, timeout=timeout).ok
    except requests.RequestException:
        return False


def stop_process(process: subprocess.Popen, timeout: float = 20, *, quick: bool = False) -> None:
    """Terminate ``process`` (kill it if it does not stop within ``timeout``) and reap it. ``quick``: a server
    whose graceful stop the test does not look at gets SIGINT, gunicorn's quick shutdown (0.4 s instead of the
    2.3 s its graceful SIGTERM takes to wind down idle workers)."""
    if process.poll() is None and quick:
        process.send_signal(signal.SIGINT)
    elif process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


# --- PostgreSQL: throw-away databases -----------------------------------------------------------------------


def postgres_unavailable(admin_url: str) -> str | None:
    """None when the server at ``admin_url`` answers, else why not (one line)."""
    try:
        with psycopg.connect(admin_url, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return f"{type(error).__name__}: {str(error).strip()[:120]}"


def create_database(admin_url: str, prefix: str = "henkham_bench") -> tuple[str, str]:
    """A new, empty database on the server of ``admin_url``: its name and URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- subprocesses with a log each ---------------------------------------------------------------------------


class Children:
    """Every subprocess a test or a bench starts, each logging to its own file in ``logs``; each is stopped by
    its handle (SIGTERM, then SIGKILL), never by name."""

    def __init__(self, logs: Path, cwd: Path = ROOT) -> None:
        self.logs = logs
        self.cwd = cwd
        self.running: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: Sequence[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.logs / f"{name}.log", "wb") as out:
            process = subprocess.Popen(list(argv), env=env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT)
        self.running.append((name, process))
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 30.0) -> int | None:
        stop_process(process, timeout)
        self.running = [(n, p) for n, p in self.running if p is not process]
        return process.returncode

    def stop_all(self) -> None:
        for _name, process in list(self.running):
            with contextlib.suppress(Exception):
                self.stop(process, timeout=15)

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def log_tail(self, name: str, lines: int = 15) -> str:
        return "\n".join(self.log(name).splitlines()[-lines:])

    def wait_up(self, url: str, process: subprocess.Popen[bytes], what: str, name: str, timeout: float = 60) -> None:
        """Wait until ``url`` answers 2xx; fail with the end of ``name``'s log if ``process`` exits first."""
        wait_until(
            lambda: answers(url),
            timeout=timeout,
            what=what,
            alive=lambda: process.poll() is None,
            details=lambda: f"the end of its log:\n{self.log_tail(name)}",
            every=0.2,
        )


def join_clients(clients: Sequence[Any], timeout: float) -> None:
    """Join a bench's own client processes (multiprocessing); terminate, by handle, any still alive."""
    for process in clients:
        process.join(timeout=timeout)
        if process.is_alive():
            process.terminate()
            process.join(timeout=5)


# --- the scaffolding of a bench script's main() -------------------------------------------------------------


class BenchError(RuntimeError):
    """A benchmark cannot go on; the message says why (printed as one ERROR line, exit status 2)."""


_STARTED = time.monotonic()


def log(message: str) -> None:
    """A progress line with the time since the start, flushed at once."""
    print(f"[{time.monotonic() - _STARTED:5.1f} s] {message}", flush=True)


def bench_parser(doc: str | None) -> argparse.ArgumentParser:
    """A bench script's parser, described by the first paragraph of its docstring (``doc``)."""
    return argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])


def add_database_arguments(
    parser: argparse.ArgumentParser, admin_url: str, given: str | None, *, logs: bool = True
) -> None:
    """--database-url (``given`` says what is done to it; None: always a throw-away database), --admin-url and,
    with ``logs``, --keep-logs."""
    if given is not None:
        parser.add_argument(
            "--database-url",
            help=f"an existing PostgreSQL database to use ({given}); default: a throw-away database on --admin-url",
        )
    parser.add_argument("--admin-url", default=admin_url, help=f"server for the throw-away database ({admin_url})")
    if logs:
        keep = "keep the subprocesses' logs (kept anyway on errors)"
        parser.add_argument("--keep-logs", action="store_true", help=keep)


def add_seed_argument(parser: argparse.ArgumentParser, of: str) -> None:
    """--seed: the random seed ``of`` what the bench draws."""
    parser.add_argument("--seed", type=int, default=20_260_101, help=f"random seed {of}")


@dataclass
class BenchRun:
    """What a bench's run gets: its database (and the name shown for it), a folder for logs, its children."""

    url: str
    dbname: str
    folder: Path
    children: Children


def bench_main(
    args: argparse.Namespace,
    run: Callable[[BenchRun], int],
    *,
    name: str,
    sqlite_fallback: bool = False,
    figures: dict[str, Any] | None = None,
) -> int:
    """Run a bench as every bench script does: a throw-away database (or the given one; SQLite when
    ``sqlite_fallback`` and PostgreSQL is unreachable), a logs folder and the subprocesses, all cleaned up on
    success, error, Ctrl-C or SIGTERM (logs kept unless it succeeded). With ``figures``, the last line printed
    is them as JSON with the exit status."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up as on Ctrl-C
    folder = Path(tempfile.mkdtemp(prefix=f"henkham-bench-{name}-"))
    children = Children(folder)
    admin_url = args.admin_url
    created = None
    status = 2
    try:
        url = getattr(args, "database_url", None)
        if url is not None:
            print(f"database    : {url.rsplit('@', 1)[-1]} (given, kept)")
            dbname = url.rsplit("/", 1)[-1].split("?")[0]
        elif sqlite_fallback and (unreachable := postgres_unavailable(admin_url)):
            url, dbname = f"sqlite:///{folder / 'henkham.db'}", "sqlite"
            print(f"database    : SQLite {folder / 'henkham.db'} (NOTE: PostgreSQL unreachable: {unreachable})")
        else:
            created, url = create_database(admin_url)
            dbname = created
            print(f"database    : {created} (throw-away, dropped at the end)")
        status = run(BenchRun(url, dbname, folder, children))
    except (BenchError, NotReady) as error:  # what went wrong, in a line (and a log's tail)
        print(f"\nERROR: {error}", file=sys.stderr)
        if figures is not None:
            figures["error"] = str(error).splitlines()[0]
        status = 2
    except KeyboardInterrupt:
        print("\ninterrupted: stopping the subprocesses and dropping the database", file=sys.stderr)
        status = 130
    except Exception:
        traceback.print_exc()
        status = 2
    finally:
        children.stop_all()
        if created is not None:
            drop_database(admin_url, created)
        if status == 0 and not getattr(args, "keep_logs", False):
            shutil.rmtree(folder, ignore_errors=True)
        else:
            print(f"logs of the subprocesses: {folder}")
    log(f"done, exit status {status}")
    if figures is not None:
        print(json.dumps({**figures, "exit_status": status}, ensure_ascii=False))  # the last line: the figures
    return status
