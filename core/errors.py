"""Domain errors: a stable code for programs, an English message for developers, a Vietnamese one for patients."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal a service can give. It names no HTTP status, no chat reply, no exit code: each
    entry point maps ``code`` to its own form (the API's table is ``henkham/web/errors.STATUS_OF_CODE``)."""

    code = "domain_error"

    def __init__(self, message: str, message_vi: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.message_vi = message_vi
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class InvalidInput(DomainError):
    code = "invalid_input"


class Conflict(DomainError):
    code = "conflict"


class RuleViolation(DomainError):
    """A booking rule of the hospital refuses the request; ``code`` names the rule."""

    def __init__(self, code: str, message: str, message_vi: str, **details: object) -> None:
        super().__init__(message, message_vi, **details)
        self.code = code
