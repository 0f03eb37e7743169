"""Domain errors: a stable code for programs, an English message for developers, a Vietnamese one for patients."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal a service can give. ``status`` is the HTTP status the API maps it to."""

    code = "domain_error"
    status = 400

    def __init__(self, message: str, message_vi: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.message_vi = message_vi
        self.details = details


class NotFound(DomainError):
    code = "not_found"
    status = 404


class InvalidInput(DomainError):
    code = "invalid_input"
    status = 422


class Conflict(DomainError):
    code = "conflict"
    status = 409


class RuleViolation(DomainError):
    """A booking rule of the hospital refuses the request; ``code`` names the rule."""

    status = 409

    def __init__(self, code: str, message: str, message_vi: str, **details: object) -> None:
        super().__init__(message, message_vi, **details)
        self.code = code
