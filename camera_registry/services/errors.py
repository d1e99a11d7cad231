"""Domain errors. The HTTP layer maps each to one status code (camera_registry/http/statuses.py)."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every refusal the domain explains to its caller."""

    code = "domain_error"

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` names each field and the reasons."""

    code = "validation_failed"


class PayloadTooLarge(DomainError):
    """An upload would expand past what the service takes (a compression bomb, too many cells); `errors` says which."""

    code = "payload_too_large"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request clashes with stored state: a duplicate id, a stale version, an illegal transition."""

    code = "conflict"


class PermissionDenied(DomainError):
    """The actor is known but may not do this."""

    code = "forbidden"


class NotAuthenticated(DomainError):
    code = "unauthenticated"
