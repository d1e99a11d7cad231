"""What a reader sees of a page or an answer, and the checks that it is all in the reader's language.

`visible_text` keeps what a person reads: text outside scripts and styles, and the attributes shown as text
(title, placeholder, aria-label, alt, a button's value). `english_words` finds words of ENGLISH_WORDS (English
that a Vietnamese reader must never meet: common words, the words of library errors, enum and role codes) in
Vietnamese text; `vietnamese_words` finds words with Vietnamese letters in English text. Data (place names,
people's names, legal texts) is not the interface: text inside an element marked translate="no", or with a lang
other than the page's (the language switch's other language), is left out, and the caller passes the data's own
strings as `data` to leave them out too.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from html.parser import HTMLParser

from sqlalchemy import String, Text, select

from camera_registry.models import AdminUnit, FootageRequest, Owner, Site, SupervisionGroup, User

#: English a Vietnamese page must not show: everyday words, library and validation wording, the codes of
#: statuses, reasons and roles, and the defaults of libraries. Matched as whole words, whatever their case.
_SINGLE_WORDS = """
    the and or of is are was be not yes with without for from by this that your you please must should cannot
    can't required field fields missing invalid valid value error errors unknown none null true false undefined
    page request requests status login logout password username submit save cancel search show download
    upload next previous newer older back home map figures administration commune district province owner owners
    lens lenses recorder recorders site sites commitment assignment assignments footage pending routed draft
    open notified viewed consented declined expired closed resolved cancelled withdrawn active offline removed
    household agency business footage_received no_footage out_of_view out_of_range no_commitment in_progress
    commune_police province_staff district_staff admin administrator staff police Sheet1 Forbidden Unauthorized
"""
ENGLISH_WORDS = (
    *_SINGLE_WORDS.split(),
    "not a valid",
    "sign in",
    "sign out",
    "Not Found",
    "Internal Server Error",
    "Method Not Allowed",
    "Bad Request",
    "Too Many Requests",
    "Request Entity Too Large",
    "Service Unavailable",
)

#: Words that are the same in both languages (names of things, units, formats).
SHARED_WORDS = ("API", "CSV", "XLSX", "GeoJSON", "PDF", "ZIP", "Zalo", "ZNS", "SMS", "OTP", "e-mail", "email")

_ALTERNATIVES = "|".join(sorted((re.escape(word) for word in ENGLISH_WORDS), key=len, reverse=True))
_ENGLISH = re.compile(rf"(?<![\w-])({_ALTERNATIVES})(?![\w-])", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]+(?:[-'][^\W\d_]+)*")
#: Attributes a reader sees as text.
SHOWN_ATTRIBUTES = ("title", "placeholder", "aria-label", "alt")
_SKIPPED_ELEMENTS = ("script", "style", "template", "noscript")
_VOID = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
)


class _Reader(HTMLParser):
    """Collects the visible text, leaving out scripts, styles and the data an element marks as such."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, left out)
        self.language = ""  # the page's, from <html lang>

    def _left_out(self) -> bool:
        return any(left_out for _, left_out in self.open)

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "html":
            self.language = values.get("lang") or ""
            return
        left_out = (
            tag in _SKIPPED_ELEMENTS
            or values.get("lang", self.language) != self.language
            or values.get("translate") == "no"
            or "hidden" in values
        )
        if tag not in _VOID:
            self.open.append((tag, left_out))
        if self._left_out() or left_out or (tag == "input" and values.get("type") == "hidden"):
            return
        shown = [values.get(name) for name in SHOWN_ATTRIBUTES]
        if tag == "input" and values.get("type") in ("submit", "button", "reset"):
            shown.append(values.get("value"))
        self.parts.extend(value for value in shown if value)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in _VOID and self.open and self.open[-1][0] == tag:
            self.open.pop()

    def handle_endtag(self, tag):
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index][0] == tag:
                del self.open[index:]
                return

    def handle_data(self, data):
        if not self._left_out():
            self.parts.append(data)


def visible_text(html: str) -> str:
    """What a person reads of `html`, as one line of words."""
    reader = _Reader()
    reader.feed(html)
    reader.close()
    return " ".join(" ".join(reader.parts).split())


def _without(text: str, data: Iterable[str]) -> str:
    for value in sorted({value for value in data if value}, key=len, reverse=True):
        text = text.replace(value, " ")
    return text


def english_words(text: str, data: Iterable[str] = ()) -> list[str]:
    """The words of ENGLISH_WORDS in `text` (not in `data`), in order of appearance."""
    text = _without(text, (*data, *SHARED_WORDS))
    return [match.group(0) for match in _ENGLISH.finditer(text)]


def is_vietnamese(word: str) -> bool:
    """A word with a Vietnamese letter: đ, or a vowel with a breve, a circumflex, a horn or a tone mark."""
    return any(
        char in "đĐ" or any(unicodedata.combining(part) for part in unicodedata.normalize("NFD", char)) for char in word
    )


def vietnamese_words(text: str, data: Iterable[str] = ()) -> list[str]:
    """The words of `text` (not in `data`) that are written with Vietnamese letters."""
    return [word for word in _WORD.findall(_without(text, data)) if is_vietnamese(word)]


def has_vietnamese(text: str) -> bool:
    """Whether `text` has a word written with Vietnamese letters."""
    return bool(vietnamese_words(text))


def texts_of(value) -> list[str]:
    """Every string inside `value` (a JSON body: dicts, lists and strings), in order."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in texts_of(item)]
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in texts_of(item)]
    return []


def registry_words(session) -> list[str]:
    """The registry's own words: names of places, sites, owners and people, and what the police typed."""
    texts = []
    for model in (AdminUnit, Site, Owner, User, FootageRequest, SupervisionGroup):
        columns = [column for column in model.__table__.columns if isinstance(column.type, (String, Text))]
        for row in session.execute(select(*columns)):
            texts.extend(value for value in row if isinstance(value, str) and len(value) > 1)
    return texts
