"""Messages to owners and to the commune police, written to the outbox in the caller's transaction.

A message exists exactly when the change it announces is committed: both
roll back together. Each message carries a deterministic idempotency key, so
a job that runs again finds the key taken and writes nothing twice, and the
gateway can drop a repeat of an at-least-once delivery. Texts are Vietnamese
and show times in Asia/Ho_Chi_Minh: short for the SMS/Zalo webhook, with
subject and detail for e-mail.

No usable owner link is ever written to the database, nor so to a backup: a
message is queued with TOKEN_SLOT where the token of its /o/ link goes, and
the deliverer mints the link when it claims the message for sending
(`mint_owner_link`, in the claim's write unit, so the hash is stored before
the link can go out), keeps the raw token in memory only, and renders the
text with it (`with_owner_link`). A try that fails or a deliverer that dies
loses that token; the next try mints a fresh link, and the lost one, whose
token exists nowhere, can never be used. Every try thus carries its own
link; each stays valid, since one that timed out may still have reached the
owner.

Where a ZNS or SMS provider is configured (docs/channels.md), an owner gets
one message, on the first channel that can reach them: ZNS for a phone on
Zalo, else SMS, else e-mail; the deliverer sends the same kind on the next
channel when one fails (`queue_fallback`), and that message's link, minted
when it is sent, supersedes the links sent before it. Without one, a phone
gets the generic webhook gateway and an address e-mail, both at once, as
before. The request's routing, which knows no settings, reads the plan from
its session (`channel_plan`): create_app puts it in every session's info.
"""

from __future__ import annotations

from .assignments import announce_routed_request, notify_assignment, remind_assignment
from .commitments import invite_renewal, invite_signature, last_valid_day
from .fallback import MAX_DETAIL_LENGTH, fail_message, move_message, queue_fallback
from .outbox import (
    PROVIDER_CHANNELS,
    TOKEN_SLOT,
    Texts,
    mint_owner_link,
    needs_owner_link,
    owner_channels,
    owner_link_slot,
    owner_link_url,
    owner_route,
    request_page_url,
    template_values,
    with_owner_link,
    written_in,
)
from .police import escalate_to_police
from .settings import CHANNEL_PLAN, ChannelPlan, ChannelSetupError, NotificationSettings, channel_plan, check_templates

__all__ = [
    "CHANNEL_PLAN",
    "ChannelPlan",
    "ChannelSetupError",
    "MAX_DETAIL_LENGTH",
    "NotificationSettings",
    "PROVIDER_CHANNELS",
    "TOKEN_SLOT",
    "Texts",
    "announce_routed_request",
    "channel_plan",
    "check_templates",
    "escalate_to_police",
    "fail_message",
    "invite_renewal",
    "invite_signature",
    "last_valid_day",
    "mint_owner_link",
    "move_message",
    "needs_owner_link",
    "notify_assignment",
    "owner_channels",
    "owner_link_slot",
    "owner_link_url",
    "owner_route",
    "queue_fallback",
    "remind_assignment",
    "request_page_url",
    "template_values",
    "with_owner_link",
    "written_in",
]
