"""What every channel provider shares: the message it sends, what the provider answered, what a receipt says.

A provider's answer is one of five outcomes, so the outbox can act on it
without knowing whose protocol it was: ACCEPTED and ALREADY_RECEIVED count as
sent (a repeat of our idempotency key the provider recognised is not a
failure), REFUSED_FALL_BACK means this owner cannot be reached on this
channel now and the next channel should be tried, CONFIG_ERROR needs an admin
(a template not approved or registered, a wrong key, no balance) and is not
retried, TRANSIENT is tried again later with the deliverer's backoff.

Callbacks that providers cannot sign (the SMS gateways) are authenticated by
a secret path segment: an HMAC of what the URL is for, under a secret only we
hold, so each URL we hand out is unguessable and can be checked without
storing it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

import requests

from ..messages import N_, Message, refusal
from ..wording import MESSAGE_LANGUAGES
from .templates import TEMPLATES, MessageKind, TemplateError

DEFAULT_TIMEOUT_SECONDS = 10.0
#: Hex characters of a callback path token: 128 bits.
CALLBACK_TOKEN_LENGTH = 32


class OutcomeKind(StrEnum):
    ACCEPTED = "accepted"
    ALREADY_RECEIVED = "already_received"
    REFUSED_FALL_BACK = "refused_fall_back"
    CONFIG_ERROR = "config_error"
    TRANSIENT = "transient"


@dataclass(frozen=True)
class Outcome:
    """A provider's answer to one send; `detail` is for the admins' and police's eyes and never holds a secret."""

    kind: OutcomeKind
    provider_message_id: str | None = None
    detail: str = ""
    #: The provider's error code behind a refusal, a transient failure or a configuration error; `detail` names it.
    code: object = field(default=None, compare=False)

    @property
    def sent(self) -> bool:
        return self.kind in (OutcomeKind.ACCEPTED, OutcomeKind.ALREADY_RECEIVED)


@dataclass(frozen=True)
class Outgoing:
    """One message to one phone: `phone` already normalised (phones.normalise_phone), `parameters` the values
    of its kind's template (templates.TEMPLATES) in the recipient's `language`, `idempotency_key` ours, sent as
    the provider's own key."""

    idempotency_key: str
    phone: str
    kind: MessageKind
    parameters: Mapping[str, str] = field(default_factory=dict)
    callback_url: str = ""
    language: str = MESSAGE_LANGUAGES[0]


class ReceiptStatus(StrEnum):
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Receipt:
    """A provider's word that a message reached the phone, or finally did not, and when."""

    provider: str
    status: ReceiptStatus
    at: datetime
    provider_message_id: str | None = None
    idempotency_key: str | None = None
    detail: str = ""


class MalformedReceipt(ValueError):
    """An authentic callback whose body is not the shape its provider documents: `field` says which part."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class Provider(Protocol):
    name: str

    def send(self, outgoing: Outgoing) -> Outcome: ...


#: Said of a code a provider answered that its documentation does not list.
SEE_THE_TABLE = N_("see the provider's error table")


@dataclass(frozen=True)
class ErrorCodes:
    """A provider's documented error codes by outcome; a code in none of them is a CONFIG_ERROR, so an answer
    nobody foresaw is shown to admins instead of being retried forever."""

    label: str
    refused: Mapping[object, str] = field(default_factory=dict)
    transient: Mapping[object, str] = field(default_factory=dict)
    config: Mapping[object, str] = field(default_factory=dict)

    def outcome(self, code: object, message: str = "") -> Outcome:
        """What `code` means, said as a Message (an admin reads it in their language); `message` is the provider's
        own words for a code we do not know, shown as they are."""
        for kind, meanings in ((OutcomeKind.REFUSED_FALL_BACK, self.refused), (OutcomeKind.TRANSIENT, self.transient)):
            if code in meanings:
                return Outcome(kind, detail=self._said(code, refusal(meanings[code])), code=code)
        reason = refusal(self.config[code]) if code in self.config else message or refusal(SEE_THE_TABLE)
        return Outcome(OutcomeKind.CONFIG_ERROR, detail=self._said(code, reason), code=code)

    def _said(self, code: object, reason: str) -> Message:
        return refusal("%(provider)s %(code)s: %(reason)s", provider=self.label, code=code, reason=reason)


class SmsGateway:
    """An SMS brandname gateway: sends its kind's registered SMS text (templates.py) with `submit`."""

    name: str

    def __init__(self, settings, http: requests.Session | None = None) -> None:
        self.settings = settings
        self.http = http or requests.Session()

    def send(self, outgoing: Outgoing) -> Outcome:
        try:
            content = TEMPLATES[outgoing.kind].in_language(outgoing.language).sms_text(outgoing.parameters)
        except TemplateError as error:
            return Outcome(OutcomeKind.CONFIG_ERROR, detail=error.args[0])
        return self.submit(outgoing, content)

    def submit(self, outgoing: Outgoing, content: str) -> Outcome:
        raise NotImplementedError


def exchange(http: requests.Session, method: str, url: str, *, timeout: float, **kwargs) -> dict | Outcome:
    """One call to a provider: its JSON object, or the Outcome of a call that brought none back.

    No answer, a 5xx or a 429 is TRANSIENT; a 401 or 403, or another status
    without JSON, is CONFIG_ERROR (wrong credentials or base URL), since
    trying again changes nothing.
    """
    try:
        response = http.request(method, url, timeout=timeout, **kwargs)
    except requests.RequestException as error:
        return Outcome(
            OutcomeKind.TRANSIENT, detail=refusal("no answer from the provider (%(error)s)", error=type(error).__name__)
        )
    status = response.status_code
    if status >= 500 or status == 429:
        return Outcome(OutcomeKind.TRANSIENT, detail=refusal("the provider answered HTTP %(status)s", status=status))
    if status in (401, 403):
        return Outcome(
            OutcomeKind.CONFIG_ERROR,
            detail=refusal("the provider refused our credentials (HTTP %(status)s)", status=status),
        )
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if isinstance(answer, dict):
        return answer
    if status < 300:
        return Outcome(
            OutcomeKind.TRANSIENT,
            detail=refusal("the provider answered HTTP %(status)s without a JSON object", status=status),
        )
    return Outcome(
        OutcomeKind.CONFIG_ERROR,
        detail=refusal("the provider answered HTTP %(status)s: check its base URL", status=status),
    )


def callback_token(secret: str, scope: str) -> str:
    """The secret path segment of a callback URL for `scope` (a message's idempotency key, or a provider)."""
    if not secret:
        raise ValueError("a callback secret is needed to make a callback URL")
    return hmac.new(secret.encode(), scope.encode(), hashlib.sha256).hexdigest()[:CALLBACK_TOKEN_LENGTH]


def callback_token_valid(secret: str, scope: str, token: str) -> bool:
    return bool(secret) and hmac.compare_digest(callback_token(secret, scope), token or "")


def timeout_from_env(environ: Mapping[str, str]) -> float:
    return float(environ.get("CHANNEL_TIMEOUT_SECONDS") or DEFAULT_TIMEOUT_SECONDS)
