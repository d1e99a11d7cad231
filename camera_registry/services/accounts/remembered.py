"""The answers of `credentials` kept for a few seconds in this process, and forgetting them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.orm import Session

from ..access import Actor

#: At most this many answers are kept; past it the oldest are dropped.
REMEMBERED_MAX = 4096


@dataclass
class Remembered:
    actor: Actor
    until: float  # time.monotonic() after which it is looked up again
    token_id: int | None = None
    expires_at: datetime | None = None
    last_used_at: datetime | None = None


_remembered: dict[tuple, Remembered] = {}
_lock = threading.Lock()


def recall(key: tuple) -> Remembered | None:
    with _lock:
        found = _remembered.get(key)
    return found if found is not None and found.until > time.monotonic() else None


def remember(key: tuple, found: Remembered) -> None:
    with _lock:
        if len(_remembered) >= REMEMBERED_MAX:
            for stale in list(_remembered)[: REMEMBERED_MAX // 4]:
                del _remembered[stale]
        _remembered[key] = found


def forget_credentials(session: Session | None = None) -> None:
    """Forget every remembered answer now and, when `session` is given, again once it commits."""
    with _lock:
        _remembered.clear()
    if session is not None:
        event.listen(session, "after_commit", lambda _: forget_credentials(), once=True)
