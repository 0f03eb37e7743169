"""How every henkham process logs: one line per record, as text (development) or JSON (``HENKHAM_LOG_FORMAT=json``:
production, for a log collector), each with the process's role and the correlation id of the work at hand
(core/correlation.py). Records are masked by bot/redaction.py when they are made; a logged exception's traceback
is masked here too, since the JSON formatter formats it again."""

from __future__ import annotations

import logging
import os
import sys

from pythonjsonlogger.json import JsonFormatter

from bot import redaction
from core.correlation import CURRENT

TEXT = "%(asctime)s {role} %(levelname)s %(name)s [%(correlation_id)s]: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(correlation_id)s"


class _Correlation(logging.Filter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = CURRENT.get() or getattr(record, "correlation_id", "") or "-"
        record.role = self.role
        return True


class _MaskedJson(JsonFormatter):
    def formatException(self, ei) -> str:  # type: ignore[no-untyped-def]
        return redaction.redact(super().formatException(ei))


def configure(role: str, log_format: str = "text", level: int = logging.INFO) -> None:
    """Send this process's log records to stderr in ``log_format`` (text or json), tagged with ``role``."""
    redaction.install()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_Correlation(role))
    if log_format == "json":
        handler.setFormatter(
            _MaskedJson(
                JSON_FIELDS,
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
                static_fields={"role": role, "pid": os.getpid()},
                timestamp=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(TEXT.format(role=role)))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
