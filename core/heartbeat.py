"""A process's liveness signal for its supervisor: a file rewritten every few seconds while the process does
its work (``HENKHAM_HEARTBEAT_FILE``; `henkham alive FILE --within N` checks it, scripts/liveness-check restarts
what has gone quiet). Workers and senders beat only while none of their threads is stuck in one step; the
scheduler beats while it leads or waits to lead. A file, not a database row: the check must work when the
database is what went away, and it costs nothing.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


class Heartbeat:
    def __init__(self, path: str | Path | None, *, every_seconds: float = 2.0) -> None:
        self.path = Path(path) if path else None
        self.every_seconds = every_seconds
        self._last = 0.0

    def beat(self, *, force: bool = False) -> None:
        """Rewrite the file (atomically) if ``every_seconds`` have passed since the last beat."""
        if self.path is None:
            return
        now = time.time()
        if not force and now - self._last < self.every_seconds:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        partial.write_text(json.dumps({"pid": os.getpid(), "at": now}), encoding="utf-8")
        os.replace(partial, self.path)
        self._last = now

    def stop(self) -> None:
        """Remove the file: a process stopped on purpose is not restarted as a quiet one."""
        if self.path is not None:
            self.path.unlink(missing_ok=True)


def seconds_since_beat(path: str | Path, now: float | None = None) -> float | None:
    """How long ago the heartbeat at ``path`` was written; None if there is none (never started, unreadable)."""
    try:
        at = float(json.loads(Path(path).read_text(encoding="utf-8"))["at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return max(0.0, (now if now is not None else time.time()) - at)
