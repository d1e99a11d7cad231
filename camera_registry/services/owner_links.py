"""Single-purpose owner links: /o/<token>.

The token carries 256 bits of randomness and only its SHA-256 is stored, so
a database leak reveals no usable link. A link serves one assignment (or one
commitment invitation) and dies with it: at its expiry, when revoked, or once
its purpose is fulfilled.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, object_session

from ..models import Assignment, LinkPurpose, Owner, OwnerLink, SharingCommitment
from ..models.base import utcnow

TOKEN_BYTES = 32


def token_hash(raw_token: str) -> str:
    return hashlib.sha256(raw_token.encode()).hexdigest()


def issue_link(
    session: Session,
    *,
    owner: Owner,
    purpose: LinkPurpose,
    expires_at: datetime,
    assignment: Assignment | None = None,
    commitment: SharingCommitment | None = None,
) -> str:
    """Create a link and return its raw token: the only time it exists outside the owner's message."""
    raw_token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(
        OwnerLink(
            token_hash=token_hash(raw_token),
            purpose=purpose,
            owner=owner,
            assignment=assignment,
            commitment=commitment,
            expires_at=expires_at,
        )
    )
    session.flush()
    return raw_token


class LinkState:
    LIVE = "live"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED = "used"


@dataclass(frozen=True)
class ResolvedLink:
    """What a token leads to, and whether it may still be used."""

    state: str
    link: OwnerLink | None


def resolve_link(session: Session, raw_token: str, now: datetime | None = None) -> ResolvedLink:
    """Find the link behind a token; a dead link still names its owner's police unit for the error page."""
    now = now or utcnow()
    link = session.scalar(select(OwnerLink).where(OwnerLink.token_hash == token_hash(raw_token)))
    if link is None:
        return ResolvedLink(LinkState.UNKNOWN, None)
    if link.revoked_at is not None:
        return ResolvedLink(LinkState.REVOKED, link)
    if link.used_at is not None:
        return ResolvedLink(LinkState.USED, link)
    if link.expires_at <= now:
        return ResolvedLink(LinkState.EXPIRED, link)
    return ResolvedLink(LinkState.LIVE, link)


def link_owner_language(session: Session, raw_token: str) -> str | None:
    """The message language of the owner a token's link was sent to (None: unknown token, or none chosen), so
    their page opens in the language their messages are written in."""
    return session.scalar(
        select(Owner.language)
        .join(OwnerLink, OwnerLink.owner_id == Owner.id)
        .where(OwnerLink.token_hash == token_hash(raw_token))
    )


def revoke_links(
    session: Session,
    *,
    assignment: Assignment | None = None,
    commitment: SharingCommitment | None = None,
    now: datetime | None = None,
) -> int:
    """Revoke every live link of an assignment or a commitment; returns how many."""
    condition = (
        (OwnerLink.assignment_id == assignment.id)
        if assignment is not None
        else (OwnerLink.commitment_id == commitment.id)
    )
    result = session.execute(
        update(OwnerLink)
        .where(condition, OwnerLink.revoked_at.is_(None), OwnerLink.used_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount


def revoke_owner_links(session: Session, owner: Owner, now: datetime | None = None) -> int:
    """Revoke every link of an owner who is anonymised, used ones too (a used link still shows its page); returns
    how many."""
    result = session.execute(
        update(OwnerLink)
        .where(OwnerLink.owner_id == owner.id, OwnerLink.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    return result.rowcount


def mark_used(link: OwnerLink, now: datetime | None = None) -> bool:
    """Stamp the link used, unless it already is or was revoked: False then, so of two submits racing
    through one link only the first acts (a conditional UPDATE, which SELECT ... FOR UPDATE on SQLite is not)."""
    result = object_session(link).execute(
        update(OwnerLink)
        .where(OwnerLink.id == link.id, OwnerLink.used_at.is_(None), OwnerLink.revoked_at.is_(None))
        .values(used_at=now or utcnow())
    )
    return result.rowcount == 1
