"""What the simulator pretends to be: the OAs it hosts, their secrets, and the ZNS templates it knows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SimulatedOA:
    """One Official Account as Zalo knows it."""

    oa_id: str
    app_id: str
    oa_secret_key: str  # signs webhook events
    app_secret: str  # header ``secret_key`` of token refreshes
    refresh_token: str = ""  # valid at start (and again after a reset)
    name: str = ""

    def public(self) -> dict[str, str]:
        """What the chat page may see: no secrets."""
        return {"oa_id": self.oa_id, "app_id": self.app_id, "name": self.name or f"OA {self.oa_id}"}


@dataclass
class SimulatorConfig:
    webhook_url: str
    oas: list[SimulatedOA]
    # ZNS template id -> its parameter names; a template id not listed here is unknown to "Zalo".
    templates: dict[str, list[str]] = field(default_factory=dict)
    access_token_ttl: int = 90000  # seconds, what Zalo's OAuth answers as expires_in
    webhook_timeout: float = 10.0  # seconds the simulator waits for the webhook's answer
    max_buttons: int = 5  # buttons accepted in one /cs message
    zns_daily_quota: int = 500
    # Echo each /cs message to the webhook as ``oa_send_*`` (as Zalo does), posted before the /cs call is
    # answered: the order in which an echo can overtake the sender's record of the message id.
    echo_oa_messages: bool = True

    def __post_init__(self) -> None:
        if not self.oas:
            raise ValueError("the simulator needs at least one OA")
        ids = [oa.oa_id for oa in self.oas]
        if len(set(ids)) != len(ids):
            raise ValueError("OA ids must be unique")

    def oa(self, oa_id: str) -> SimulatedOA | None:
        return next((oa for oa in self.oas if oa.oa_id == oa_id), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorConfig:
        """Build from plain data (e.g. a parsed YAML or JSON file)."""
        values = dict(data)
        values["oas"] = [oa if isinstance(oa, SimulatedOA) else SimulatedOA(**oa) for oa in values.get("oas", [])]
        values["templates"] = {str(k): list(v) for k, v in dict(values.get("templates") or {}).items()}
        return cls(**values)
