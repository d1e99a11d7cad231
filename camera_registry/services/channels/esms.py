"""SMS brandname through eSMS (ViHAT): send a registered customer-care text, read its delivery callback.

Protocol, from eSMS's developer documentation
(https://github.com/devesms/gitbook_esms_for_develop_v2_en, published at https://developers.esms.vn):
- Send: POST https://rest.esms.vn/MainService.svc/json/SendMultipleMessage_V4_post_json/ with JSON
  {ApiKey, SecretKey, Phone, Content, Brandname, SmsType "2" (customer care), IsUnicode "0", RequestId,
  CallbackUrl} (esms-api/send-sms-api/send-otp-customer-care-message.md). The answer's CodeResult:
  "100" accepted, with SMSID ("it does not indicate whether the message has been delivered"); "124"
  duplicate RequestId, which for us is ALREADY_RECEIVED: eSMS has our message; "146" the content matches no
  registered customer-care template; the others below (esms-api/table-of-error-codes.md).
- RequestId is our idempotency key: eSMS "prevent[s] the request from duplicated" by it.
- Callback: eSMS calls CallbackUrl with HTTP GET once the message's status is final, retried up to 5
  times, with query parameters SMSID, SendStatus (1 pending approval, 2 waiting, 4 rejected, 5 sent,
  7 sent to the telco, waiting for its report), SendSuccess and SendFailed (counts), RequestId, TypeId,
  telcoid and phonenumber; no time and no signature (esms-api/callback-url.md). So the receipt's time is
  when we received it, and the URL we give carries a secret segment (base.callback_token).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote

from ..messages import N_
from .base import (
    ErrorCodes,
    Outcome,
    OutcomeKind,
    Outgoing,
    Receipt,
    ReceiptStatus,
    SmsGateway,
    callback_token,
    callback_token_valid,
    exchange,
    timeout_from_env,
)

NAME = "esms"
DEFAULT_BASE_URL = "https://rest.esms.vn"
SEND_PATH = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"
CUSTOMER_CARE = "2"

ACCEPTED = "100"
DUPLICATE_REQUEST = "124"
ERROR_CODES = ErrorCodes(
    "eSMS",
    # This phone cannot get our SMS: send by the next channel.
    refused={"99": N_("eSMS blocks this phone number"), "108": N_("eSMS finds the phone number malformed")},
    config={
        "101": N_("wrong ApiKey or SecretKey"),
        "102": N_("no price list for this account"),
        "103": N_("not enough balance to send: top up the eSMS account"),
        "104": N_("the brandname does not exist for this account"),
        "118": N_("message type not supported"),
        "140": N_("this server's IP address is not whitelisted at eSMS"),
        "146": N_("the text matches no customer-care template registered for the brandname"),
        "177": N_("the brandname is not registered with this phone's network"),
        "300": N_("message type missing"),
    },
)
SENT = "5"
REJECTED = "4"


@dataclass(frozen=True)
class EsmsSettings:
    """eSMS from the environment (docs/channels.md). `callback_base_url` is where the receipts route will be
    (e.g. https://camera.example.vn/receipts/esms); each message's CallbackUrl adds its key and secret."""

    api_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    brandname: str
    callback_base_url: str
    callback_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    sms_type: str = CUSTOMER_CARE
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> EsmsSettings:
        return cls(
            api_key=environ.get("CHANNEL_ESMS_API_KEY", ""),
            secret_key=environ.get("CHANNEL_ESMS_SECRET_KEY", ""),
            brandname=environ.get("CHANNEL_ESMS_BRANDNAME", ""),
            callback_base_url=environ.get("CHANNEL_ESMS_CALLBACK_BASE_URL", "").rstrip("/"),
            callback_secret=environ.get("CHANNEL_ESMS_CALLBACK_SECRET", ""),
            base_url=(environ.get("CHANNEL_ESMS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            sms_type=environ.get("CHANNEL_ESMS_SMS_TYPE") or CUSTOMER_CARE,
            timeout_seconds=timeout_from_env(environ),
        )


def callback_url(settings: EsmsSettings, idempotency_key: str) -> str:
    """The CallbackUrl for one message: <callback base>/<our key>/<secret token for that key>."""
    return (
        f"{settings.callback_base_url}/{quote(idempotency_key, safe='')}/"
        f"{callback_token(settings.callback_secret, idempotency_key)}"
    )


def callback_authentic(settings: EsmsSettings, idempotency_key: str, token: str) -> bool:
    """Whether a callback's path (key and token, as callback_url made them) is one we handed out."""
    return callback_token_valid(settings.callback_secret, idempotency_key, token)


class EsmsProvider(SmsGateway):
    name = NAME
    settings: EsmsSettings

    def submit(self, outgoing: Outgoing, content: str) -> Outcome:
        body = {
            "ApiKey": self.settings.api_key,
            "SecretKey": self.settings.secret_key,
            "Phone": outgoing.phone,
            "Content": content,
            "Brandname": self.settings.brandname,
            "SmsType": self.settings.sms_type,
            "IsUnicode": "0",
            "RequestId": outgoing.idempotency_key,
        }
        if outgoing.callback_url:
            body["CallbackUrl"] = outgoing.callback_url
        answer = exchange(
            self.http, "POST", self.settings.base_url + SEND_PATH, timeout=self.settings.timeout_seconds, json=body
        )
        if isinstance(answer, Outcome):
            return answer
        code = str(answer.get("CodeResult") or "")
        message = answer.get("ErrorMessage") or ""
        if code == ACCEPTED:
            return Outcome(OutcomeKind.ACCEPTED, provider_message_id=answer.get("SMSID"))
        if code == DUPLICATE_REQUEST:
            return Outcome(
                OutcomeKind.ALREADY_RECEIVED, detail=f"eSMS already has RequestId {outgoing.idempotency_key}"
            )
        if not code:
            return Outcome(OutcomeKind.TRANSIENT, detail=f"eSMS answered without a CodeResult: {message}".rstrip(": "))
        return ERROR_CODES.outcome(code, message)


def parse_callback(
    query: Mapping[str, str], received_at: datetime, idempotency_key: str | None = None
) -> Receipt | None:
    """The final status an eSMS callback reports for one SMS; None while it is not final yet.

    `idempotency_key` is the one from the callback's (authenticated) path.
    """
    status = str(query.get("SendStatus") or "")
    succeeded, failed = _count(query.get("SendSuccess")), _count(query.get("SendFailed"))
    if status == SENT and succeeded:
        outcome = ReceiptStatus.DELIVERED
    elif status == REJECTED or (status == SENT and failed):
        outcome = ReceiptStatus.FAILED
    else:
        return None
    return Receipt(
        provider=NAME,
        status=outcome,
        at=received_at,
        provider_message_id=query.get("SMSID") or None,
        idempotency_key=idempotency_key or query.get("RequestId") or None,
        detail=f"SendStatus {status}, {succeeded} delivered, {failed} failed",
    )


def _count(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0
