"""The base of every input schema: what neither database can store is refused, naming the field."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import validate

from .fields import MAX_INT, MIN_INT, plausible_date, storable_text


def _within_database_bounds(field: ma.fields.Field) -> None:
    """An integer without an upper bound is bounded to what an INTEGER column holds; text refuses NUL; a date
    falls in DATE_YEARS."""
    if isinstance(field, ma.fields.Integer):
        if not any(isinstance(rule, validate.Range) and rule.max is not None for rule in field.validators):
            field.validators.append(validate.Range(min=MIN_INT, max=MAX_INT))
    elif isinstance(field, ma.fields.String):
        field.validators.append(storable_text)
    elif isinstance(field, (ma.fields.Date, ma.fields.DateTime)):
        field.validators.append(plausible_date)
    elif isinstance(field, ma.fields.List):
        _within_database_bounds(field.inner)
    elif isinstance(field, ma.fields.Dict):
        for inner in (field.key_field, field.value_field):
            if inner is not None:
                _within_database_bounds(inner)


class InputSchema(ma.Schema):
    """Every schema of what the registry is sent (query, headers, body, a page's form): a value neither database
    can store (an integer above 2^31-1, text with NUL, the year 9999) is a 422 naming the field, never a 500;
    the integer bounds are in the OpenAPI document (minimum/maximum)."""

    def on_bind_field(self, field_name: str, field_obj: ma.fields.Field) -> None:
        _within_database_bounds(field_obj)


class StrictSchema(InputSchema):
    class Meta:
        unknown = ma.RAISE
