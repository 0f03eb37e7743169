"""A fake Zalo OpenAPI for development and tests: Zalo's paths, headers, envelopes and error codes on one
origin, a record of every message the OA sent, failures on demand, signed user events posted to our webhook,
and a phone-like chat page at ``/``. Never used in production.
"""

from __future__ import annotations

from .app import create_simulator
from .config import SimulatedOA, SimulatorConfig
from .server import serve

__all__ = ["SimulatedOA", "SimulatorConfig", "create_simulator", "serve"]
