"""What the domain tells people, kept translatable without Flask.

A refusal is English text that remembers its msgid and parameters: str() is the English (logs, audit notes
and callers that compare English keep working) and the HTTP layer (camera_registry.http.messages) says it
again in the reader's language. `pybabel extract` finds the msgids by the keywords `refusal`, `domain_term`
and `N_`.
"""

from __future__ import annotations


def N_(msgid: str) -> str:
    """Mark `msgid` for the catalogs where it is only named, not yet said (tables of templates)."""
    return msgid


class Message(str):
    """English text made from `msgid` % `params`; a param may itself be a Message (a field's label)."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, params: dict[str, object] | None = None) -> Message:
        params = params or {}
        text = super().__new__(cls, msgid % {name: str(value) for name, value in params.items()} if params else msgid)
        text.msgid, text.params = msgid, params
        return text


def refusal(msgid: str, **params: object) -> Message:
    """A message or a reason: an English msgid with named %(...)s placeholders and their values."""
    return Message(msgid, params)


def domain_term(name: str) -> Message:
    """A field's, a record kind's or a state's name as people read it: the identifier in English (what the API
    names), words in Vietnamese."""
    return Message(name)


def record_name(what: str, record_id: object) -> Message:
    """One record as a refusal names it: "footage request 12"."""
    return refusal("%(what)s %(id)s", what=domain_term(what), id=record_id)


def joined(parts: list, separator: str = " ") -> Message:
    """Several messages as one line, each still said in the reader's language."""
    names = [f"part{i}" for i in range(len(parts))]
    return Message(separator.join(f"%({name})s" for name in names), dict(zip(names, parts)))


def field_refusal(field: str, reason: str) -> Message:
    """The one-line message of a single field's reason: "window_end: must be after window_start"."""
    return refusal("%(field)s: %(reason)s", field=domain_term(field), reason=reason)


def stored(text: object) -> object:
    """`text` as JSON that keeps a Message's msgid and parameters, so what is kept (an import job's row errors)
    is said again in a later reader's language; any other value as it is."""
    if isinstance(text, Message):
        return {"msgid": text.msgid, "params": {name: stored(value) for name, value in text.params.items()}}
    return text


def restored(value: object) -> object:
    """The Message `stored` kept (plain values as they are)."""
    if isinstance(value, dict) and set(value) == {"msgid", "params"}:
        return Message(value["msgid"], {name: restored(param) for name, param in value["params"].items()})
    return value
