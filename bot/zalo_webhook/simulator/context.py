"""One simulator's state, bundled and reachable from a request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from .config import SimulatorConfig
from .faults import FaultBook
from .state import ChatStore
from .tokens import TokenStore

EXTENSION_KEY = "zalo_simulator"


@dataclass
class Simulator:
    config: SimulatorConfig
    tokens: TokenStore
    faults: FaultBook
    store: ChatStore

    @classmethod
    def from_config(cls, config: SimulatorConfig) -> Simulator:
        return cls(config, TokenStore(config.oas, config.access_token_ttl), FaultBook(), ChatStore())

    def reset(self) -> None:
        self.tokens.reset()
        self.faults.reset()
        self.store.reset()

    def stats(self) -> dict[str, Any]:
        return {**self.store.stats(), **self.tokens.stats(), "faults_fired": self.faults.fired}


def current_simulator() -> Simulator:
    return current_app.extensions[EXTENSION_KEY]
