"""Owners: invited to renew a sharing commitment that is running out, or to sign a first one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ...models import (
    OutboxMessage,
    Owner,
    SharingCommitment,
)
from ...timezones import local_time
from ..channels.templates import TEMPLATES, MessageKind
from ..commitments import last_day_in_force
from ..wording import message_language, say
from .assignments import police_unit
from .outbox import Texts, _queue, footer, owner_channels, owner_link_slot
from .settings import ChannelPlan


def last_valid_day(valid_until: datetime) -> str:
    """The end date a message names: the commitment's last day in force, as the owner's page gives it."""
    return last_day_in_force(valid_until).strftime("%d/%m/%Y")


def _renewal_texts(commitment: SharingCommitment, link_url: str) -> Texts:
    owner = commitment.owner
    language = message_language(owner.language)
    last_day = last_valid_day(commitment.valid_until)
    parameters = {"owner_name": owner.name, "last_day": last_day}
    short = TEMPLATES[MessageKind.RENEWAL].in_language(language).short_text({**parameters, "link": link_url})
    phone = owner.commune.police_phone if owner.commune else None
    body = "\n".join(
        [
            say(language, "Dear %(name)s,", name=owner.name),
            "",
            say(
                language,
                "The camera footage-sharing commitment you signed on %(signed)s is in force until the end of "
                "%(last_day)s.",
                signed=local_time(commitment.signed_at, "%d/%m/%Y"),
                last_day=last_day,
            ),
            say(
                language,
                "To stay in the Camera an ninh programme, please read and renew the commitment at the link made "
                "for you:",
            ),
            link_url,
            "",
            say(language, "At this link you may also let the commitment end or withdraw it."),
            *footer(language, police_unit(language, owner.commune), phone, link_url),
        ]
    )
    subject = say(language, "Please renew your Camera an ninh footage-sharing commitment")
    return Texts(short, subject, body, parameters, language)


def invite_renewal(
    session: Session, commitment: SharingCommitment, base_url: str, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """Invite the owner to renew a commitment that is running out, through a new commitment link (minted when
    the invitation is sent, valid until `valid_until`); by ZNS or SMS it waits out the quiet hours."""
    recipients = owner_channels(commitment.owner, plan)
    if not recipients:
        return []
    link_url = owner_link_slot(base_url)
    return _queue(
        session,
        key=f"commitment:{commitment.id}:renewal",
        kind=MessageKind.RENEWAL.value,
        recipients=recipients,
        texts=_renewal_texts(commitment, link_url),
        payload={"commitment_id": commitment.id, "link": link_url, "valid_until": commitment.valid_until.isoformat()},
        now=now,
    )


def _invitation_texts(owner: Owner, link_url: str) -> Texts:
    language = message_language(owner.language)
    unit = police_unit(language, owner.commune)
    phone = owner.commune.police_phone if owner.commune else None
    parameters = {"owner_name": owner.name, "police_unit": unit}
    short = TEMPLATES[MessageKind.INVITATION].in_language(language).short_text({**parameters, "link": link_url})
    body = "\n".join(
        [
            say(language, "Dear %(name)s,", name=owner.name),
            "",
            say(
                language,
                "%(police_unit)s invites you to join the Camera an ninh programme: when a case arises, the police "
                "ask you to keep and hand over a copy of the camera footage concerned.",
                police_unit=unit,
            ),
            say(language, "Please read and sign the footage-sharing commitment at the link made for you:"),
            link_url,
            "",
            say(language, "If you do not wish to take part, please ignore this message."),
            *footer(language, unit, phone, link_url),
        ]
    )
    subject = say(language, "Invitation to sign the Camera an ninh footage-sharing commitment")
    return Texts(short, subject, body, parameters, language)


def invite_signature(
    session: Session, owner: Owner, base_url: str, plan: ChannelPlan, now: datetime, link_expires_at: datetime
) -> list[OutboxMessage]:
    """Invite an owner with no commitment to sign one, through a commitment link naming none (minted when the
    invitation is sent, valid until `link_expires_at`); by ZNS or SMS it waits out the quiet hours."""
    recipients = owner_channels(owner, plan)
    if not recipients:
        return []
    link_url = owner_link_slot(base_url)
    return _queue(
        session,
        key=f"owner:{owner.id}:commitment-invitation:{now:%Y%m%dT%H%M%S}",
        kind=MessageKind.INVITATION.value,
        recipients=recipients,
        texts=_invitation_texts(owner, link_url),
        payload={"invited_owner_id": owner.id, "link": link_url, "link_expires_at": link_expires_at.isoformat()},
        now=now,
    )
