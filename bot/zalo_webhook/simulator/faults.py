"""Failures injected on demand: HTTP errors, timeouts and Zalo error codes for the next matching requests."""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

KIND = re.compile(r"^(?:http_(?P<status>[1-5]\d\d)|timeout|zalo_(?P<code>-\d+))$")
DEFAULT_TIMEOUT_DELAY = 30.0


class FaultSpecError(ValueError):
    """The fault asked for cannot be understood."""


@dataclass
class Fault:
    id: int
    path: str  # an exact request path, or "*" for every Zalo endpoint
    kind: str  # http_<status> | timeout | zalo_<negative code>
    count: int | None  # requests still to hit; None when ``rate`` decides
    rate: float | None  # fraction of matching requests to hit, until cleared
    delay_seconds: float  # timeout only
    processed: bool  # timeout only: the request is carried out before the delay
    fired: int = 0

    @property
    def http_status(self) -> int | None:
        match = KIND.match(self.kind)
        return int(match["status"]) if match and match["status"] else None

    @property
    def zalo_code(self) -> int | None:
        match = KIND.match(self.kind)
        return int(match["code"]) if match and match["code"] else None

    @property
    def is_timeout(self) -> bool:
        return self.kind == "timeout"

    def matches(self, path: str) -> bool:
        return self.path in ("*", path)

    def describe(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Validate a ``POST /_sim/faults`` body into the fields of a ``Fault`` (without id)."""
    path = spec.get("path", "*")
    if not isinstance(path, str) or not (path == "*" or path.startswith("/")):
        raise FaultSpecError('path must be "*" or start with "/"')
    kind = spec.get("kind")
    if not isinstance(kind, str) or not KIND.match(kind):
        raise FaultSpecError("kind must be http_<status>, timeout or zalo_<negative code>")
    rate = spec.get("rate")
    count = spec.get("count", 1)
    if rate is not None:
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 <= rate <= 1.0:
            raise FaultSpecError("rate must be a number from 0 to 1")
        count = None
    elif isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise FaultSpecError("count must be a positive integer")
    delay = spec.get("delay_seconds", DEFAULT_TIMEOUT_DELAY)
    if isinstance(delay, bool) or not isinstance(delay, int | float) or delay < 0:
        raise FaultSpecError("delay_seconds must be a non-negative number")
    processed = spec.get("processed", False)
    if not isinstance(processed, bool):
        raise FaultSpecError("processed must be true or false")
    return {
        "path": path,
        "kind": kind,
        "count": count,
        "rate": None if rate is None else float(rate),
        "delay_seconds": float(delay),
        "processed": processed,
    }


class FaultBook:
    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._next_id = 1
        self._fired = 0

    def add(self, spec: Mapping[str, Any]) -> Fault:
        fields = parse_fault(spec)
        with self._lock:
            fault = Fault(id=self._next_id, **fields)
            self._next_id += 1
            self._faults.append(fault)
            return fault

    def clear(self) -> None:
        with self._lock:
            self._faults = []

    def reset(self) -> None:
        with self._lock:
            self._faults = []
            self._fired = 0

    def take(self, path: str) -> Fault | None:
        """The fault this request gets, if any (the oldest matching one); counts it as fired."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(path):
                    continue
                if fault.rate is not None:
                    if self._rng.random() >= fault.rate:
                        continue
                else:
                    assert fault.count is not None
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                fault.fired += 1
                self._fired += 1
                return fault
            return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.describe() for fault in self._faults]

    @property
    def fired(self) -> int:
        with self._lock:
            return self._fired
