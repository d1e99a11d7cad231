"""Vietnamese text without its diacritics: for SMS brandname messages, and for matching what people type.

People type street and commune names without tone marks ("tay son"), gateways send SMS without them (one
GSM-7 part holds 160 characters, one UCS-2 part 70), and data files spell kinds of unit either way.
"""

from __future__ import annotations

import unicodedata


def strip_accents(text: str) -> str:
    """The text without tone marks and vowel marks, đ as d, case kept: "Công an đề nghị" -> "Cong an de nghi"."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return unicodedata.normalize("NFC", "".join(char for char in decomposed if not unicodedata.combining(char)))


def fold(text: str) -> str:
    """Text as compared: accents dropped, case folded, runs of spaces as one: "  Phố Tây  Sơn" -> "pho tay son"."""
    return " ".join(strip_accents(text).casefold().split())
