"""Zalo ZNS template messages: send, refresh the OA access token, and read the delivery receipt.

Protocol, as documented (third-party copies where Zalo's own pages were not stored):
- Send: POST {base}/message/template, header `access_token` (the OA access token), JSON
  {phone "84...", template_id, template_data, tracking_id}; the answer is {error, message, data: {msg_id,
  sent_time, quota}}, error 0 meaning accepted. Base URL https://business.openapi.zalo.me
  (https://app.unpkg.com/@warriorteam/redai-zalo-sdk@1.32.17/files/dist/services/zns.service.js);
  tracking_id is the caller's own reference, echoed in receipts
  (https://docs.etelecom.vn/api-etelecom-english/api-integration/zalo-cloud/zalo-cloud-api/send-zns).
  Our idempotency key is the tracking_id. Zalo documents no deduplication by it, so a repeat after a lost
  answer is a second message; the receipt still names our key.
- Refresh: POST {oauth}/v4/oa/access_token, header `secret_key` (the app's secret), form {app_id,
  refresh_token, grant_type=refresh_token}; the answer holds a new access_token (valid 25 hours, expires_in
  seconds) and a new refresh_token (valid 3 months, usable once), so the new pair must be stored at once,
  where every process finds it (TokenStore; the outbox's is services/delivery/zns_tokens.py)
  (https://www.hexasync.vn/zalo-oa-api-huong-dan-cach-lay-access-token-tu-refresh-token/).
- Error codes -100 to -119 from Zalo's table (https://zalo.cloud/zns/guidelines/handle-error-code, in the
  order https://helpdesk.getfly.vn/web-version/interactive-blocks/questions-about-zns lists them); -114 is
  "User is inactive, or reject the message, or using an outdated Zalo version, or other internal errors"
  (quoted in eSMS's ZNS callback sample, https://github.com/devesms/gitbook_esms_for_develop_v2_en,
  esms-api/callback-url.md). -124 (access token invalid), -131 (template not
  approved), -133 (night sending not allowed), -139/-141 (the user refused this kind of ZNS / this OA) and
  -144/-147 (daily quotas) are as Zalo's table is widely quoted; the stored copies cut off before them.
- Receipt: the OA webhook event `user_received_message` whose message carries `delivery_time` (ms since
  the epoch) and `msg_id` is a ZNS delivery (an OA chat receipt has no delivery_time); tracking_id in it is
  assumed as Zalo's ZNS webhook page describes it, not seen in a stored copy.
- Signature: header X-ZEvent-Signature = sha256(app_id + raw body + timestamp from the body + OA secret
  key), hex, sometimes prefixed "mac=" (https://hainh.me/zalo-api-php-webhook-callback-official-account.html:
  the OA secret key, not the app secret).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import requests

from ..messages import N_, refusal
from ..wording import MESSAGE_LANGUAGES
from .base import ErrorCodes, Outcome, OutcomeKind, Outgoing, Receipt, ReceiptStatus, exchange, timeout_from_env
from .templates import TEMPLATES, ZNS_KINDS, MessageKind, TemplateError, zns_template_setting

NAME = "zns"
DEFAULT_BASE_URL = "https://business.openapi.zalo.me"
DEFAULT_OAUTH_URL = "https://oauth.zaloapp.com"
SEND_PATH = "/message/template"
REFRESH_PATH = "/v4/oa/access_token"
SIGNATURE_HEADER = "X-ZEvent-Signature"
RECEIPT_EVENT = "user_received_message"

#: The access token expired or was revoked: refresh it once and send again.
TOKEN_REFUSED = {-124}
ERROR_CODES = ErrorCodes(
    "ZNS error",
    # This owner cannot be reached by ZNS now: send by the next channel.
    refused={
        -108: N_("Zalo finds the phone number invalid"),
        -110: N_("the owner's Zalo version cannot show ZNS"),
        -114: N_("the owner is inactive on Zalo, refuses ZNS, or is not on Zalo"),
        -118: N_("no Zalo account for this phone, or it is disabled"),
        -119: N_("this Zalo account cannot receive ZNS"),
        -133: N_("Zalo does not send this ZNS at night"),
        -139: N_("the owner refused this kind of ZNS"),
        -141: N_("the owner refused ZNS from this Official Account"),
        -144: N_("the Official Account's daily ZNS quota is used up"),
        -147: N_("this template's daily quota is used up"),
    },
    transient={-100: N_("unknown error at Zalo")},
    config={
        -101: N_("the Zalo app is invalid"),
        -102: N_("the Zalo app does not exist"),
        -103: N_("the Zalo app is not activated"),
        -104: N_("the Zalo app's secret key is invalid"),
        -105: N_("the Zalo app is not linked to an Official Account"),
        -106: N_("method not supported"),
        -107: N_("message id invalid"),
        -109: N_("the ZNS template id is invalid"),
        -111: N_("the template data is empty"),
        -112: N_("the template data does not match the template"),
        -115: N_("out of ZNS quota: top up the Official Account's ZCA balance"),
        -116: N_("the content is invalid"),
        -117: N_("the Official Account or app may not use this template"),
        -131: N_("the ZNS template is not approved"),
    },
)

#: Refusals meaning the phone is not on Zalo or its owner refuses our ZNS: not worth trying ZNS for them again.
NOT_ON_ZALO = frozenset({-114, -118, -119, -141})


def not_on_zalo(outcome: Outcome) -> bool:
    return outcome.kind == OutcomeKind.REFUSED_FALL_BACK and outcome.code in NOT_ON_ZALO


@dataclass(frozen=True)
class Tokens:
    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    #: When Zalo says the access token runs out (its refresh answer's expires_in); None for a configured pair.
    expires_at: datetime | None = field(default=None, compare=False)


class TokenStore(Protocol):
    """Where the OA's current token pair is kept, shared by every process that sends ZNS."""

    def current(self) -> Tokens:
        """The pair to send with now."""

    def renew(self, refused: Tokens, refresh: Callable[[str], Tokens]) -> Tokens:
        """The pair to use after Zalo refused `refused`'s access token: one another process stored meanwhile,
        or `refresh(refresh_token)`'s new pair, stored before it is returned (the old refresh token is spent).
        TokenRefreshFailed when neither can be had."""


@dataclass(frozen=True)
class ZnsSettings:
    """ZNS from the environment (docs/channels.md): the app, the Official Account's webhook secret, the
    first token pair (refreshed ones are stored by the caller), and the approved template of each kind sent by
    ZNS, by language: Vietnamese's are required, another language's are all set or none."""

    app_id: str
    secret_key: str = field(repr=False)
    oa_secret_key: str = field(repr=False)
    tokens: Tokens
    template_ids: Mapping[str, Mapping[MessageKind, str]]
    base_url: str = DEFAULT_BASE_URL
    oauth_url: str = DEFAULT_OAUTH_URL
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ZnsSettings:
        return cls(
            app_id=environ.get("CHANNEL_ZNS_APP_ID", ""),
            secret_key=environ.get("CHANNEL_ZNS_SECRET_KEY", ""),
            oa_secret_key=environ.get("CHANNEL_ZNS_OA_SECRET_KEY", ""),
            tokens=Tokens(environ.get("CHANNEL_ZNS_ACCESS_TOKEN", ""), environ.get("CHANNEL_ZNS_REFRESH_TOKEN", "")),
            template_ids={
                language: {kind: environ.get(zns_template_setting(kind, language), "") for kind in ZNS_KINDS}
                for language in MESSAGE_LANGUAGES
            },
            base_url=(environ.get("CHANNEL_ZNS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            oauth_url=(environ.get("CHANNEL_ZNS_OAUTH_URL") or DEFAULT_OAUTH_URL).rstrip("/"),
            timeout_seconds=timeout_from_env(environ),
        )


class TokenRefreshFailed(Exception):
    """Zalo did not renew the OA's tokens: `transient` when it could not be reached (the old refresh token
    then still holds), otherwise an admin must authorise the app for the Official Account again."""

    def __init__(self, detail: str, transient: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail  # a Message when we worded it, said in the admin's language
        self.transient = transient


class BadSignature(ValueError):
    """A webhook event whose X-ZEvent-Signature is not Zalo's."""


def refresh_tokens(settings: ZnsSettings, refresh_token: str, http: requests.Session | None = None) -> Tokens:
    """A new access and refresh token for `refresh_token`, which Zalo then no longer accepts; TokenRefreshFailed
    when Zalo refuses it or cannot be reached."""
    answer = exchange(
        http or requests.Session(),
        "POST",
        settings.oauth_url + REFRESH_PATH,
        timeout=settings.timeout_seconds,
        headers={"secret_key": settings.secret_key},
        data={"app_id": settings.app_id, "refresh_token": refresh_token, "grant_type": "refresh_token"},
    )
    if isinstance(answer, Outcome):
        raise TokenRefreshFailed(answer.detail, transient=answer.kind == OutcomeKind.TRANSIENT)
    if not answer.get("access_token") or not answer.get("refresh_token"):
        reason = answer.get("error_description") or answer.get("error_name") or refusal("no token in the answer")
        raise TokenRefreshFailed(
            refusal(
                "Zalo refused the refresh token (error %(error)s: %(reason)s)", error=answer.get("error"), reason=reason
            )
        )
    try:
        expires_at = datetime.now(UTC) + timedelta(seconds=int(answer.get("expires_in")))
    except (TypeError, ValueError):
        expires_at = None
    return Tokens(answer["access_token"], answer["refresh_token"], expires_at)


class ZnsProvider:
    """Sends ZNS with the store's current OA tokens; when Zalo refuses the access token, has the store renew the
    pair once (by a refresh, unless another process already did) and sends again."""

    name = NAME

    def __init__(self, settings: ZnsSettings, store: TokenStore, http: requests.Session | None = None) -> None:
        self.settings = settings
        self.store = store
        self.http = http or requests.Session()

    def send(self, outgoing: Outgoing) -> Outcome:
        template_id = (self.settings.template_ids.get(outgoing.language, {}).get(outgoing.kind) or "").strip()
        if not template_id:
            setting = zns_template_setting(outgoing.kind, outgoing.language)
            return Outcome(
                OutcomeKind.CONFIG_ERROR, detail=refusal("no ZNS template id: set %(setting)s", setting=setting)
            )
        try:
            data = TEMPLATES[outgoing.kind].zns_data(outgoing.parameters)
        except TemplateError as error:
            return Outcome(OutcomeKind.REFUSED_FALL_BACK, detail=f"cannot go by ZNS: {error}")
        body = {
            "phone": outgoing.phone,
            "template_id": template_id,
            "template_data": data,
            "tracking_id": outgoing.idempotency_key,
        }
        tokens = self.store.current()
        outcome = self._post(body, tokens)
        if outcome is not None:
            return outcome
        try:
            tokens = self.store.renew(
                tokens, lambda refresh_token: refresh_tokens(self.settings, refresh_token, self.http)
            )
        except TokenRefreshFailed as error:
            kind = OutcomeKind.TRANSIENT if error.transient else OutcomeKind.CONFIG_ERROR
            detail = refusal("the ZNS access token expired and its refresh failed: %(reason)s", reason=error.detail)
            return Outcome(kind, detail=detail)
        return self._post(body, tokens) or Outcome(
            OutcomeKind.CONFIG_ERROR, detail=refusal("Zalo refused a freshly refreshed access token")
        )

    def _post(self, body: dict, tokens: Tokens) -> Outcome | None:
        """Zalo's answer as an Outcome; None when it refused the access token."""
        answer = exchange(
            self.http,
            "POST",
            self.settings.base_url + SEND_PATH,
            timeout=self.settings.timeout_seconds,
            headers={"access_token": tokens.access_token},
            json=body,
        )
        if isinstance(answer, Outcome):
            return answer
        code = answer.get("error")
        if code == 0:
            msg_id = (answer.get("data") or {}).get("msg_id")
            return Outcome(OutcomeKind.ACCEPTED, provider_message_id=str(msg_id) if msg_id else None)
        if code in TOKEN_REFUSED:
            return None
        return ERROR_CODES.outcome(code, answer.get("message") or "")


def signature(settings: ZnsSettings, raw_body: bytes, timestamp: str) -> str:
    """X-ZEvent-Signature as Zalo computes it for an event body."""
    signed = settings.app_id.encode() + raw_body + str(timestamp).encode() + settings.oa_secret_key.encode()
    return hashlib.sha256(signed).hexdigest()


def signature_valid(settings: ZnsSettings, raw_body: bytes, header: str) -> bool:
    if not settings.oa_secret_key or not settings.app_id:
        return False
    try:
        timestamp = json.loads(raw_body)["timestamp"]
    except (ValueError, KeyError, TypeError):
        return False
    supplied = (header or "").strip().removeprefix("mac=").lower()
    return hmac.compare_digest(signature(settings, raw_body, timestamp), supplied)


def parse_receipt(settings: ZnsSettings, raw_body: bytes, header: str) -> Receipt | None:
    """The delivery a signed `user_received_message` event reports; None for any other event.

    BadSignature when the event is not signed by Zalo for our Official Account.
    """
    if not signature_valid(settings, raw_body, header):
        raise BadSignature(f"{SIGNATURE_HEADER} does not match this event")
    event = json.loads(raw_body)
    message = event.get("message")
    if event.get("event_name") != RECEIPT_EVENT or not isinstance(message, dict) or not message.get("delivery_time"):
        return None
    return Receipt(
        provider=NAME,
        status=ReceiptStatus.DELIVERED,
        at=datetime.fromtimestamp(int(message["delivery_time"]) / 1000, UTC),
        provider_message_id=message.get("msg_id"),
        idempotency_key=message.get("tracking_id"),
    )
