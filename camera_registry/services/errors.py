"""Domain errors. The HTTP layer maps each to one status code (camera_registry/http/statuses.py) and says its
message and reasons in the reader's language: give them as Messages (camera_registry.services.messages)."""

from __future__ import annotations

from .messages import domain_term, record_name, refusal


class DomainError(Exception):
    """Base of every refusal the domain explains to its caller."""

    code = "domain_error"

    def __init__(self, message: str, errors: dict[str, list] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


class ValidationFailed(DomainError):
    """Input broke a rule; `errors` names each field and the reasons."""

    code = "validation_failed"

    @classmethod
    def unknown(cls, field: str, what: str, record_id: object) -> ValidationFailed:
        """`field` names a record that is missing or out of the actor's reach: "unknown owner 12"."""
        name = domain_term(what)
        return cls(
            refusal("unknown %(what)s %(id)s", what=name, id=record_id),
            {field: [refusal("no %(what)s %(id)s in your reach", what=name, id=record_id)]},
        )


class PayloadTooLarge(DomainError):
    """An upload would expand past what the service takes (a compression bomb, too many cells); `errors` says which."""

    code = "payload_too_large"


class NotFound(DomainError):
    code = "not_found"

    @classmethod
    def of(cls, what: str, record_id: object) -> NotFound:
        """A record missing or out of the actor's reach: "footage request 12 not found"."""
        return cls(refusal("%(record)s not found", record=record_name(what, record_id)))


class Conflict(DomainError):
    """The request clashes with stored state: a duplicate id, a stale version, an illegal transition."""

    code = "conflict"


class PermissionDenied(DomainError):
    """The actor is known but may not do this."""

    code = "forbidden"


class NotAuthenticated(DomainError):
    code = "unauthenticated"
