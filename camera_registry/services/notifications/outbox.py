"""Writing a message to the outbox: its texts, the channels an owner is reached on, and the slot of the owner's
link that is filled in when it is sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ...models import (
    Assignment,
    Channel,
    FootageRequest,
    LinkPurpose,
    OutboxMessage,
    Owner,
    SharingCommitment,
)
from ...models.base import utcnow
from ..channels.quiet_hours import earliest_send
from ..channels.templates import MessageKind
from ..owner_links import issue_link, revoke_links
from ..wording import MESSAGE_LANGUAGES, message_language, say
from .settings import ChannelPlan

#: Where the token of an owner's link goes in a queued message: "/o/" + TOKEN_SLOT, filled in at send time.
#: Not a token (tokens are URL-safe base64), so it resolves to nothing.
TOKEN_SLOT = "{owner-link-token}"
#: The channels that send registered templates, filled with a message's parameters.
PROVIDER_CHANNELS = frozenset({Channel.ZNS, Channel.SMS})


def owner_link_url(base_url: str, raw_token: str) -> str:
    return f"{base_url.rstrip('/')}/o/{raw_token}"


def privacy_notice_url(link_url: str, language: str) -> str:
    """The privacy notice on the site an owner's link points to, in the owner's language."""
    site = link_url.split("/o/", 1)[0]
    return f"{site}/privacy" + ("" if language == MESSAGE_LANGUAGES[0] else f"?lang={language}")


def footer(language: str, police_unit: str, phone: str | None, link_url: str) -> list[str]:
    """An owner e-mail's last lines: the police's duty phone, and where the owner reads how their data is kept
    and how to ask about it (Law 91/2025/QH15 asks every message to say where)."""
    return [
        *(
            [say(language, "Duty phone of %(police_unit)s: %(phone)s", police_unit=police_unit, phone=phone)]
            if phone
            else []
        ),
        say(language, "How your personal data is kept and used: %(url)s", url=privacy_notice_url(link_url, language)),
    ]


def request_page_url(base_url: str, request: FootageRequest) -> str:
    return f"{base_url.rstrip('/')}/requests/{request.id}"


@dataclass(frozen=True)
class Texts:
    """One message in both shapes, in its recipient's `language`: `short` for the webhook gateway, `subject` and
    `body` for e-mail, and `parameters` for the ZNS and SMS templates of its kind (channels/templates.py; the link
    is added when sent)."""

    short: str
    subject: str
    body: str
    parameters: dict = field(default_factory=dict)
    language: str = MESSAGE_LANGUAGES[0]


def owner_route(owner: Owner, plan: ChannelPlan) -> list[tuple[Channel, str]]:
    """The channels that can reach an owner, in the order they are tried: their preferred one first, then ZNS
    for a phone on Zalo (when Zalo approved our templates in the owner's language), SMS for a phone, e-mail for
    an address; only those with a provider configured."""
    route = []
    if owner.phone and owner.zalo and plan.zns and message_language(owner.language) in plan.zns_languages:
        route.append((Channel.ZNS, owner.phone))
    if owner.phone and plan.sms:
        route.append((Channel.SMS, owner.phone))
    if owner.email:
        route.append((Channel.EMAIL, owner.email))
    route.sort(key=lambda step: step[0] != owner.preferred_channel)
    return route


def owner_channels(owner: Owner, plan: ChannelPlan) -> list[tuple[Channel, str]]:
    """Where an owner's message goes now: with a ZNS or SMS provider, the first channel of their route only (the
    next ones are fallbacks); without, the webhook gateway for a phone and e-mail for an address, both."""
    if plan.by_provider:
        return owner_route(owner, plan)[:1]
    channels = []
    if owner.phone:
        channels.append((Channel.WEBHOOK, owner.phone))
    if owner.email:
        channels.append((Channel.EMAIL, owner.email))
    return channels


@dataclass(frozen=True)
class Letter:
    """One message to queue, on each of `recipients`, keyed `<key>:<channel>`."""

    key: str
    kind: str
    recipients: list[tuple[Channel, str]]
    texts: Texts
    payload: dict
    assignment: Assignment | None = None
    now: datetime | None = None
    deadline: datetime | None = None
    falls_back_from: OutboxMessage | None = None


def _queue(session: Session, **letter) -> list[OutboxMessage]:
    """One outbox row per channel of one `Letter` (its fields as keywords); see `queue_letters`."""
    return queue_letters(session, [Letter(**letter)])[0]


def queue_letters(session: Session, letters: list[Letter]) -> list[list[OutboxMessage]]:
    """One outbox row per channel of each letter, with one query and one flush for them all; a key already
    written is skipped. Returns each letter's rows.

    A ZNS or SMS row is due at the first moment the quiet hours allow for its
    kind from `now` (`deadline`: the preservation deadline of a new request); any other at once.
    """
    keys = [{channel: f"{letter.key}:{channel.value}" for channel, _ in letter.recipients} for letter in letters]
    wanted = [key for by_channel in keys for key in by_channel.values()]
    taken = set(session.scalars(select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(wanted))))
    queued = [
        [
            OutboxMessage(
                kind=letter.kind,
                channel=channel,
                recipient=recipient,
                idempotency_key=by_channel[channel],
                subject=letter.texts.subject if channel == Channel.EMAIL else "",
                body=letter.texts.body if channel == Channel.EMAIL else letter.texts.short,
                payload={**letter.payload, "language": letter.texts.language, "parameters": letter.texts.parameters}
                if channel in PROVIDER_CHANNELS
                else {**letter.payload, "language": letter.texts.language},
                assignment_id=letter.assignment.id if letter.assignment else None,
                next_attempt_at=earliest_send(letter.now or utcnow(), MessageKind(letter.kind), letter.deadline)
                if channel in PROVIDER_CHANNELS
                else utcnow(),
                falls_back_from_id=letter.falls_back_from.id if letter.falls_back_from else None,
            )
            for channel, recipient in letter.recipients
            if by_channel[channel] not in taken
        ]
        for letter, by_channel in zip(letters, keys)
    ]
    session.add_all([message for messages in queued for message in messages])
    session.flush()
    return queued


def owner_link_slot(base_url: str) -> str:
    """The owner's link as a queued message carries it: the token is minted and filled in when it is sent."""
    return owner_link_url(base_url, TOKEN_SLOT)


def needs_owner_link(message: OutboxMessage) -> bool:
    return TOKEN_SLOT in ((message.payload or {}).get("link") or "")


def mint_owner_link(session: Session, message: OutboxMessage) -> str | None:
    """A new link for the owner a claimed message goes to; its hash is stored now, its raw token returned.

    Call it in the write unit that claims the message, so no link can be sent
    whose hash is not stored. None when the message carries no owner link, or
    its assignment or commitment is gone. A fallback message's link
    supersedes the links sent before it: they are revoked here, so the
    assignment or commitment has one live link.
    """
    if not needs_owner_link(message):
        return None
    invited_owner_id = message.payload.get("invited_owner_id")
    if invited_owner_id is not None:  # an invitation to sign a first commitment: the link names none
        owner = session.get(Owner, invited_owner_id)
        expires_at = datetime.fromisoformat(message.payload["link_expires_at"])
        return (
            issue_link(session, owner=owner, purpose=LinkPurpose.COMMITMENT, expires_at=expires_at) if owner else None
        )
    commitment_id = message.payload.get("commitment_id")
    if commitment_id is not None:
        commitment = session.get(SharingCommitment, commitment_id)
        if commitment is None or commitment.valid_until is None:
            return None
        if message.falls_back_from_id is not None:
            revoke_links(session, commitment=commitment)
        return issue_link(
            session,
            owner=commitment.owner,
            purpose=LinkPurpose.COMMITMENT,
            commitment=commitment,
            expires_at=commitment.valid_until,
        )
    assignment = session.get(Assignment, message.assignment_id) if message.assignment_id else None
    if assignment is None:
        return None
    if message.falls_back_from_id is not None:
        revoke_links(session, assignment=assignment)
    return issue_link(
        session,
        owner=assignment.owner,
        purpose=LinkPurpose.ASSIGNMENT,
        assignment=assignment,
        # An owner who agreed uploads until the recorder overwrites, not only until the answer was due.
        expires_at=assignment.overwrite_deadline,
    )


def with_owner_link(message: OutboxMessage, raw_token: str) -> None:
    """Put the minted token into a claimed message's text and payload, in memory: `message` must be detached
    from every session (the deliverer's claimed messages are), so this is never written back."""
    slot, token = f"/o/{TOKEN_SLOT}", f"/o/{raw_token}"
    message.body = message.body.replace(slot, token)
    message.payload = {**message.payload, "link": message.payload["link"].replace(slot, token)}


def written_in(message: OutboxMessage) -> str:
    """The language a queued message was written in (messages queued before languages were Vietnamese)."""
    return message_language((message.payload or {}).get("language"))


def template_values(message: OutboxMessage) -> dict[str, str]:
    """A ZNS or SMS message's template parameters, with its link (the owner's, or the police's page)."""
    payload = message.payload or {}
    return {**payload.get("parameters", {}), "link": payload.get("link") or payload.get("page") or ""}
