"""Zalo's reply envelope and the error codes the simulator answers with (see shared/zalo-api.md)."""

from __future__ import annotations

from typing import Any

RATE_LIMITED = -32
INVALID_PARAMETER = -201
USER_NOT_FOUND = -210
INVALID_TOKEN = -216
EXPIRED_TOKEN = -220

ZNS_INVALID_PHONE = -108
ZNS_INVALID_TEMPLATE_DATA = -115
ZNS_INVALID_TEMPLATE = -124

OAUTH_INVALID_PARAMETER = -14001
OAUTH_INVALID_APP = -14002
OAUTH_INVALID_REFRESH_TOKEN = -14014

MESSAGES: dict[int, str] = {
    RATE_LIMITED: "Exceeded the rate limit",
    INVALID_PARAMETER: "Parameters are invalid",
    USER_NOT_FOUND: "User not found",
    -211: "Out of quota",
    -213: "User has not followed the OA",
    INVALID_TOKEN: "Access token is invalid",
    EXPIRED_TOKEN: "Access token has expired",
    -227: "User is banned or has been inactive",
    -230: "User has not interacted with the OA in the past 7 days",
    -232: "User has not interacted with the OA recently",
    -234: "This message type cannot be sent at night",
    -244: "User has restricted this message type",
    ZNS_INVALID_PHONE: "Phone number is invalid",
    ZNS_INVALID_TEMPLATE_DATA: "Template data is invalid",
    ZNS_INVALID_TEMPLATE: "Template is invalid",
    -133: "This template cannot be sent at night",
}

OAUTH_NAMES: dict[int, str] = {
    OAUTH_INVALID_PARAMETER: "Invalid parameter",
    OAUTH_INVALID_APP: "Invalid app id or secret key",
    OAUTH_INVALID_REFRESH_TOKEN: "Invalid refresh token",
}


class ZaloError(Exception):
    """Raised by an OA or ZNS endpoint; answered as HTTP 200 with a non-zero ``error``."""

    def __init__(self, code: int, detail: str = "") -> None:
        self.code = code
        base = MESSAGES.get(code, "Simulated error")
        self.message = f"{base}: {detail}" if detail else base
        super().__init__(self.message)


class OAuthError(Exception):
    """Raised by the OAuth endpoint; answered flat: ``error``, ``error_name``, ``error_description``."""

    def __init__(self, code: int, description: str) -> None:
        self.code = code
        self.name = OAUTH_NAMES.get(code, "Simulated error")
        self.description = description
        super().__init__(f"{self.name}: {description}")


def success(data: Any) -> dict[str, Any]:
    return {"error": 0, "message": "Success", "data": data}


def failure(code: int, message: str | None = None) -> dict[str, Any]:
    return {"error": code, "message": message or MESSAGES.get(code, "Simulated error")}


def oauth_failure(code: int, description: str = "") -> dict[str, Any]:
    name = OAUTH_NAMES.get(code, MESSAGES.get(code, "Simulated error"))
    return {"error": code, "error_name": name, "error_description": description or name}
