"""Refusals said in the reader's language, for the API's JSON errors and the pages alike.

A domain Message (camera_registry.services.messages) is translated by its msgid and parameters. marshmallow's
and webargs' own English reasons are plain strings: each known template is matched and translated with the
values it holds ("Longer than maximum length 64." -> "Dài hơn tối đa 64 ký tự."). Anything else is shown as
it is.
"""

from __future__ import annotations

import re

from flask_babel import gettext
from werkzeug.exceptions import HTTPException

from ..services.messages import N_, Message

#: marshmallow's (and webargs') built-in reasons, as marshmallow words them once formatted.
LIBRARY_REASONS = (
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Invalid type."),
    N_("Invalid input type."),
    N_("Unknown field."),
    N_("Invalid JSON body."),
    N_("Not a valid boolean."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid aware datetime."),
    N_("Not a valid naive datetime."),
    N_("Not a valid time."),
    N_("Not a valid period of time."),
    N_("Not a valid mapping type."),
    N_("Not a valid email address."),
    N_("Not a valid integer."),
    N_("Not a valid number."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid list."),
    N_("Not a valid tuple."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid URL."),
    N_("Not a valid UUID."),
    N_("Not a valid IP address."),
    N_("Not a valid IPv4 address."),
    N_("Not a valid IPv6 address."),
    N_("Not a valid IP interface."),
    N_("Not a valid IPv4 interface."),
    N_("Not a valid IPv6 interface."),
    N_("String does not match expected pattern."),
    N_("Must be one of: %(choices)s."),
    N_("Must be equal to %(other)s."),
    N_("One or more of the choices you made was in: %(values)s."),
    N_("One or more of the choices you made was not in: %(choices)s."),
    N_("Shorter than minimum length %(min)s."),
    N_("Longer than maximum length %(max)s."),
    N_("Length must be between %(min)s and %(max)s."),
    N_("Length must be %(equal)s."),
    N_("Must be greater than or equal to %(min)s."),
    N_("Must be greater than %(min)s."),
    N_("Must be less than or equal to %(max)s."),
    N_("Must be less than %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    N_("Must be greater than or equal to %(min)s and less than %(max)s."),
    N_("Must be greater than %(min)s and less than %(max)s."),
)

_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _pattern(msgid: str) -> re.Pattern:
    parts = _PLACEHOLDER.split(msgid)  # literal, name, literal, name, ...
    return re.compile(
        "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>.+?)" for i, part in enumerate(parts)) + r"\Z"
    )


#: Tried with the most literal text first, so "Must be greater than or equal to 1." is not read as
#: "Must be greater than %(min)s." with min = "or equal to 1".
_LIBRARY_PATTERNS = sorted(
    ((_pattern(msgid), msgid) for msgid in LIBRARY_REASONS), key=lambda pair: -len(_PLACEHOLDER.sub("", pair[1]))
)


def library_message(text: str) -> Message | None:
    """`text` as the Message of the library template it was made from, or None."""
    for pattern, msgid in _LIBRARY_PATTERNS:
        found = pattern.match(text)
        if found:
            return Message(msgid, found.groupdict())
    return None


def translated(text):
    """`text` in the request's language: a Message by its msgid, a library reason by its template; any other
    value (an allowed action's name, a number) as it is."""
    if isinstance(text, str) and not isinstance(text, Message):
        text = library_message(text) or text
    if not isinstance(text, Message) or not text.msgid:
        return text  # gettext("") would answer the catalog's header
    return gettext(text.msgid, **{name: translated(value) for name, value in text.params.items()})


def translated_errors(errors):
    """Per-field reasons (marshmallow nests them in dicts and lists) with every reason translated."""
    if isinstance(errors, dict):
        return {key: translated_errors(value) for key, value in errors.items()}
    if isinstance(errors, (list, tuple)):
        return [translated_errors(value) for value in errors]
    return translated(errors)


#: What an HTTP error says when nothing more particular is known (werkzeug's own descriptions are English).
HTTP_ERROR_MESSAGES = {
    400: N_("The request cannot be read."),
    401: N_("Sign in first."),
    403: N_("You may not do this."),
    404: N_("There is nothing at this address."),
    405: N_("This address does not take this method."),
    406: N_("This address cannot answer in a format you accept."),
    409: N_("This clashes with what is stored now."),
    413: N_("What you sent is too large."),
    415: N_("This address does not take what you sent in this format."),
    429: N_("Too many requests; wait a moment and try again."),
    500: N_("Something went wrong on our side."),
    503: N_("The service is busy; try again in a moment."),
}


def http_error_message(error: HTTPException) -> str:
    """What `error` says in the request's language: its own description when one was given, else its status's."""
    if error.description == type(error).description and error.code in HTTP_ERROR_MESSAGES:
        return gettext(HTTP_ERROR_MESSAGES[error.code])
    return translated(error.description or error.name)
