"""Passwords: the Argon2id hashes, and which new passwords are refused.

Passwords are stored as Argon2id hashes and re-hashed at login when the
hasher's parameters change. A new password is refused when it is easy to
guess (NIST SP 800-63B, 3.1.1.2): at least 10 characters, and not a common
password, a repeat or a sequence of characters, a keyboard row, a date or the
account's own name; zxcvbn (its lists of 30,000 common passwords and of
words, and its pattern matchers) tells which.
"""

from __future__ import annotations

import re
import secrets
import threading
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from ...db import after_read
from ...models import User
from ..messages import Message, refusal

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256  # NIST asks for at least 64; Argon2 takes any length
#: zxcvbn's score (0-4) a password must reach: 3 is "safely unguessable", about 10^8 guesses or more.
MIN_PASSWORD_SCORE = 3
#: zxcvbn reads the first characters only (its matching grows fast with length); longer passwords are not weaker.
PASSWORD_SCORED_CHARACTERS = 64
#: Words anyone would try first against this service (NIST: "context-specific words").
SERVICE_WORDS = (
    "camera",
    "camera an ninh",
    "cameraanninh",
    "anninh",
    "an ninh",
    "congan",
    "công an",
    "matkhau",
    "mật khẩu",
    "registry",
    "admin",
    "quantri",
    "quản trị",
)

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    """Verified against for unknown usernames, so a miss costs as much as a wrong password."""
    return _hasher.hash(secrets.token_urlsafe(16))


def authenticate_password(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None; re-hashes outdated hashes."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        password_matches(_dummy_hash(), password)
        return None
    if not password_matches(user.password_hash, password) or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        new_hash, user_id = _hasher.hash(password), user.id
        after_read(session, lambda writer: setattr(writer.get(User, user_id), "password_hash", new_hash))
    return user


#: Why a guessable password is refused, by the kind of zxcvbn match that made it guessable.
_WEAKNESS_REASONS = (
    (
        lambda m: m.get("dictionary_name") == "user_inputs",
        refusal("must not be built from the username, the person's name or the name of this service"),
    ),
    (
        lambda m: m.get("dictionary_name") == "passwords" and m["whole"],
        refusal("is one of the most commonly used passwords"),
    ),
    (lambda m: m["pattern"] == "repeat", refusal("repeats the same characters (like 'aaaa' or 'abcabc')")),
    (lambda m: m["pattern"] == "sequence", refusal("is a sequence of characters (like 'abcdef' or '123456')")),
    (lambda m: m["pattern"] == "spatial", refusal("is a row of keys on the keyboard (like 'qwerty' or 'asdfgh')")),
    (lambda m: m["pattern"] == "date", refusal("is mostly a date")),
    (lambda m: m["pattern"] == "dictionary", refusal("is a common password or word with little added to it")),
)
_GUESSABLE = refusal("is too easy to guess: use a longer phrase of several uncommon words")
_zxcvbn_lock = threading.Lock()  # zxcvbn keeps the user inputs in a module-level dictionary


def password_problems(password: str, username: str = "", full_name: str = "") -> list[Message]:
    """Why `password` may not be used (empty when it may), as reasons for the `password` field."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [refusal("must be at least %(least)s characters long", least=MIN_PASSWORD_LENGTH)]
    if len(password) > MAX_PASSWORD_LENGTH:
        return [refusal("must be at most %(most)s characters long", most=MAX_PASSWORD_LENGTH)]
    own_names = [
        name for name in (username, *re.split(r"[\s._-]+", username), full_name, *full_name.split()) if len(name) >= 3
    ]
    folded = password.casefold()
    if any(name.casefold() in folded for name in (username, full_name) if len(name) >= 3):
        return [refusal("must not contain the username or the person's name")]
    with _zxcvbn_lock:
        result = zxcvbn(password[:PASSWORD_SCORED_CHARACTERS], user_inputs=[*own_names, *SERVICE_WORDS])
    if result["score"] >= MIN_PASSWORD_SCORE:
        return []
    # The reason is the longest guessable part zxcvbn found (a user input wins, being the most specific).
    scored = password[:PASSWORD_SCORED_CHARACTERS]
    matches = sorted(
        ({**m, "whole": m["token"] == scored} for m in result["sequence"] if m["pattern"] != "bruteforce"),
        key=lambda m: (m.get("dictionary_name") != "user_inputs", -len(m["token"])),
    )
    for match in matches:
        for is_weakness, reason in _WEAKNESS_REASONS:
            if is_weakness(match):
                return [reason]
    return [_GUESSABLE]
