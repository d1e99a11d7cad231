"""How an owner asks to be reached, through their live link: a first channel, no non-urgent messages, and the
language their messages are written in.

The outbox reads these on every message (notifications/outbox.py owner_route;
deadlines.py skips reminders and renewal invitations for an owner who opted
out); requests still reach everyone. A channel the owner cannot receive is
refused, since choosing it would change nothing. Setting what is already set
writes nothing.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from ..models import Channel, Owner
from ..models.base import utcnow
from .access import owner_actor
from .audit import record
from .owner_links import resolve_link
from .owner_pages import DEAD_STATES, OwnerPage, PageState, Refusal, owner_page

#: The channels an owner may put first; None is "no preference" (ZNS, then SMS, then e-mail).
CHOICES = (Channel.ZNS, Channel.SMS, Channel.EMAIL)
AUDITED_AS = "owner.contact_preferences"
#: Refusals of a channel the owner cannot receive.
NO_EMAIL = "no_email"
NO_PHONE = "no_phone"


def unreachable(owner: Owner, channel: Channel | None) -> str | None:
    """Why `owner` cannot be reached on `channel` (NO_EMAIL, NO_PHONE), or None."""
    if channel == Channel.EMAIL and not owner.email:
        return NO_EMAIL
    if channel in (Channel.ZNS, Channel.SMS) and not owner.phone:
        return NO_PHONE
    return None


def set_contact_preferences(
    session: Session,
    raw_token: str,
    channel: Channel | None,
    non_urgent_opt_out: bool,
    message_language: str | None = None,
    *,
    language: str = "vi",
    now: datetime | None = None,
) -> OwnerPage:
    """Record the link's owner's first channel, opt-out and the language of their messages (None: unchanged), in
    the caller's write unit, audited; the page again.

    Choosing Zalo says the phone is on Zalo again, after ZNS had said it was not.
    """
    now = now or utcnow()
    page = owner_page(session, resolve_link(session, raw_token, now), language, now)
    if page.state == PageState.UNKNOWN or page.state in DEAD_STATES:
        return replace(page, refusal=Refusal.LINK_DEAD)
    # Locked and read as stored: the deliverer may have just cleared the owner's Zalo flag, bumping the version.
    owner = session.get(Owner, page.link.owner_id, with_for_update=True, populate_existing=True)
    refusal = unreachable(owner, channel)
    if refusal is not None:
        return replace(page, refusal=refusal)
    before = _preferences(owner)
    owner.preferred_channel, owner.non_urgent_opt_out = channel, non_urgent_opt_out
    if message_language is not None:
        owner.language = message_language
    if channel == Channel.ZNS:
        owner.zalo = True
    after = _preferences(owner)
    if after != before:
        record(session, owner_actor(owner.id), AUDITED_AS, "owner", owner.id, details={"from": before, "to": after})
    return page


def _preferences(owner: Owner) -> dict:
    channel = owner.preferred_channel.value if owner.preferred_channel else None
    return {
        "preferred_channel": channel,
        "non_urgent_opt_out": owner.non_urgent_opt_out,
        "zalo": owner.zalo,
        "language": owner.language,
    }
