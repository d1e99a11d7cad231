"""The language a user reads the pages in, kept on their account so it follows them to every browser."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ..access import Actor
from ..errors import ValidationFailed
from .users import own_account

#: The pages' languages, Vietnamese first: the programme is Vietnamese and English is for visitors.
PAGE_LANGUAGES = ("vi", "en")


def choose_language(session: Session, actor: Actor, language: str) -> None:
    """Store `language` as the signed-in user's page language; the caller commits."""
    if language not in PAGE_LANGUAGES:
        raise ValidationFailed(
            f"{language!r} is not a page language", {"lang": [f"must be one of {', '.join(PAGE_LANGUAGES)}"]}
        )
    own_account(session, actor).language = language
