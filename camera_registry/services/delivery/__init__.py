"""The deliverer: sends outbox messages by Zalo ZNS, SMS brandname, the generic webhook and SMTP, once at the
receiver.

One run is a series of short write units with no transaction open while
anything is sent (DESIGN.md §4):
- claim: a conditional UPDATE leases up to a batch of due messages to this
  deliverer (`lease_holder`) for the claim lease (90 s), mints the owner link each one
  carries (its hash stored in the same unit, its raw token kept in this
  process's memory only), and commits;
- send each message, and record its outcome (channels/base.py) in its own
  write unit: sent (with the provider's message id, to match its receipt),
  retried later with exponential backoff, dead (audited) after the configured
  number of tries or at once on a configuration error an admin must fix, or
  failed when the provider refuses this owner, with the fallback on the next
  channel queued in the same unit (notifications.fail_message). A record that
  fails on a lock is tried again for as long as the claim lasts, because an
  unrecorded send is sent again;
- while it works through a slow batch the deliverer renews its claims, and
  a message is sent only while its claim has SEND_MARGIN left, so a claim
  never runs out during its send;
- a run that stops early gives back the claims it did not use.
A deliverer that dies leaves at most the claim lease on its claims; the next
run after that sends them with the same idempotency key, so the gateway can
drop the one repeat a death between a send and its record causes.
No usable owner link is written to the database at any step
(services/notifications/): a retry, or the next deliverer after a death,
mints a fresh link, and the lost one's token exists nowhere.
"""

from __future__ import annotations

from .claims import (
    BATCH_SIZE,
    CLAIM_LEASE,
    MAX_BACKOFF,
    MAX_ERROR_LENGTH,
    RECORD_RETRY_PAUSE_SECONDS,
    SEND_MARGIN,
    backoff,
    claim_due,
    deliver_due,
    new_holder,
    release_claims,
    renew_claims,
)
from .sending import (
    SEND_TIMEOUT_SECONDS,
    DeliveryFailed,
    missing_settings,
    provider_for,
    provider_name,
    send,
    signature,
    webhook_body,
)

__all__ = [
    "BATCH_SIZE",
    "CLAIM_LEASE",
    "DeliveryFailed",
    "MAX_BACKOFF",
    "MAX_ERROR_LENGTH",
    "RECORD_RETRY_PAUSE_SECONDS",
    "SEND_MARGIN",
    "SEND_TIMEOUT_SECONDS",
    "backoff",
    "claim_due",
    "deliver_due",
    "missing_settings",
    "new_holder",
    "provider_for",
    "provider_name",
    "release_claims",
    "renew_claims",
    "send",
    "signature",
    "webhook_body",
]
