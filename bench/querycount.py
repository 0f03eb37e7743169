"""Run a ``henkham`` command with the SQL it sends counted: ``python bench/querycount.py COUNTS.json ARGS...``.

The command is the ``henkham`` script's own entry point (``henkham.cli:cli``) with the same arguments, in
this process; before it starts, listeners on every SQLAlchemy engine (``Engine`` class events) count

- ``statements``: cursor executions (``before_cursor_execute``), by verb (select, insert, update, …);
- ``parameter_sets``: rows of executemany calls (psycopg 3 sends an executemany as that many statements,
  pipelined; a statement with one parameter set counts one);
- ``commits`` and ``rollbacks`` of connections (a unit of work's commit; autocommit readers have none).

Not counted: statements psycopg sends on its own (``BEGIN``, a pool's reset ``ROLLBACK``) and the few raw
psycopg connections outside SQLAlchemy (the scheduler's advisory-lock session with its ``SELECT 1`` every
5 s, the senders' ``LISTEN`` connection). The counts are written to COUNTS.json (atomically) every 0.2 s and
at exit, so a reader sees them while the process runs and after a clean stop (SIGTERM).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WRITE_SECONDS = 0.2


class StatementCounter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.verbs: Counter[str] = Counter()
        self.parameter_sets = 0
        self.commits = 0
        self.rollbacks = 0

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._statement)
        event.listen(Engine, "commit", self._commit)
        event.listen(Engine, "rollback", self._rollback)

    def _statement(
        self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, executemany: bool
    ) -> None:
        verb = statement.lstrip().split(None, 1)[0].lower() if statement.strip() else "other"
        sets = len(parameters) if executemany and parameters is not None else 1
        with self.lock:
            self.verbs[verb] += 1
            self.parameter_sets += sets

    def _commit(self, _conn: Any) -> None:
        with self.lock:
            self.commits += 1

    def _rollback(self, _conn: Any) -> None:
        with self.lock:
            self.rollbacks += 1

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "pid": os.getpid(),
                "statements": sum(self.verbs.values()),
                "verbs": dict(self.verbs),
                "parameter_sets": self.parameter_sets,
                "commits": self.commits,
                "rollbacks": self.rollbacks,
            }

    def write(self) -> None:
        partial = self.path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(self.snapshot()))
        os.replace(partial, self.path)

    def keep_writing(self) -> None:
        while True:
            threading.Event().wait(WRITE_SECONDS)
            with contextlib.suppress(OSError):
                self.write()


def read_counts(path: Path) -> dict[str, Any]:
    """The last counts written to ``path`` (zeros when none were)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {"statements": 0, "verbs": {}, "parameter_sets": 0, "commits": 0, "rollbacks": 0}


def main() -> None:
    if len(sys.argv) < 3:
        raise SystemExit("usage: querycount.py COUNTS.json HENKHAM-ARGS...")
    # Run as a script, this file's folder (bench/) is first on sys.path: put the project root there instead.
    sys.path[0] = str(ROOT)
    counter = StatementCounter(Path(sys.argv[1]))
    counter.install()
    atexit.register(counter.write)
    threading.Thread(target=counter.keep_writing, name="querycount", daemon=True).start()

    from henkham.cli import cli

    cli.main(args=sys.argv[2:], prog_name="henkham")


if __name__ == "__main__":
    main()
