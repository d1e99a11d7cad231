"""Words said outside any web request: the messages to owners and duty phones, in their reader's language.

The texts are English msgids in the same catalogs the pages use (camera_registry/translations, compiled by
`make install`), read here with Babel alone since services never import Flask. A language without a compiled
catalog is an installation fault, said at once rather than sending Vietnamese owners English.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from .accounts.languages import PAGE_LANGUAGES

#: The languages a message can be written in, Vietnamese first (the default for an owner who chose none).
MESSAGE_LANGUAGES = PAGE_LANGUAGES
CATALOGS = Path(__file__).resolve().parent.parent / "translations"


def message_language(language: str | None) -> str:
    """The language a recipient's messages are written in: theirs when we have it, else Vietnamese."""
    return language if language in MESSAGE_LANGUAGES else MESSAGE_LANGUAGES[0]


@cache
def catalog(language: str) -> NullTranslations:
    compiled = CATALOGS / language / "LC_MESSAGES" / "messages.mo"
    if not compiled.is_file():
        raise RuntimeError(f"no compiled message catalog for {language!r} at {compiled}: run `make install`")
    return Translations.load(CATALOGS, [language])


def say(language: str, msgid: str, **params: object) -> str:
    """`msgid` in `language`, its %(name)s placeholders filled with `params`."""
    text = catalog(message_language(language)).gettext(msgid)
    return text % params if params else text
