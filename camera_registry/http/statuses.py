"""The one table from refusals to HTTP statuses, for the API's JSON errors and the pages alike.

A form or body its schema refused (marshmallow) is a 422, as the API's
webargs answers it. A unique key taken by a concurrent insert reaches the
HTTP layer as the database's IntegrityError; `as_domain_error` makes it the
Conflict (409) it is.
"""

from __future__ import annotations

import marshmallow as ma
from sqlalchemy.exc import IntegrityError

from ..services.errors import (
    Conflict,
    DomainError,
    NotAuthenticated,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationFailed,
)
from ..services.records import duplicate_key_conflict

STATUS_OF = {
    ma.ValidationError: 422,
    ValidationFailed: 422,
    PayloadTooLarge: 413,
    NotFound: 404,
    Conflict: 409,
    PermissionDenied: 403,
    NotAuthenticated: 401,
}


def status_of(error: DomainError | ma.ValidationError) -> int:
    return next(status for kind, status in STATUS_OF.items() if isinstance(error, kind))


def as_domain_error(error: Exception) -> DomainError | None:
    """The domain error `error` stands for: itself, a Conflict for a unique key a concurrent insert took
    (two creates with the same external_id racing), or None when it is not one the table knows."""
    if isinstance(error, DomainError):
        return error
    if isinstance(error, IntegrityError):
        return duplicate_key_conflict(error)
    return None
