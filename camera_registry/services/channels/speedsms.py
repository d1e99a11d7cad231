"""SMS brandname through SpeedSMS: a second gateway behind the same Provider interface.

Protocol, from SpeedSMS's published client code and API page (https://en.speedsms.vn/sms-api-service-2;
the sample clients in https://github.com/thienth32/we16304-php2/blob/HEAD/sendsms.js and
https://github.com/Kietvu12/kidolocks_web/blob/HEAD/backend/utils/exemple.groovy):
- Send: POST https://api.speedsms.vn/index.php/sms/send, HTTP basic auth with the access token as user
  and "x" as password, JSON {to: [phones], content, sms_type (3: brandname), sender (the brandname)}.
  Success: {status "success", code "00", data {tranId, totalSMS, totalPrice, invalidPhone []}};
  failure: {status "error", code, message} with codes 007 IP locked, 008 account blocked, 009 account
  may not use the API, 101 invalid parameters, 105 phone invalid, 110 encoding not supported, 113
  content too long, 300 balance too low, 500 internal error.
- SpeedSMS takes no request id, so a repeat after a lost answer is sent twice: nothing here can answer
  ALREADY_RECEIVED.
- Delivery reports: not in any stored copy of SpeedSMS's documentation. Assumed, as its account webhook
  is usually described: a POST of JSON {type "report", tranId, phone, status} to the webhook URL set in the
  SpeedSMS dashboard, status 0 delivered and any other value failed, no time and no signature. The webhook
  URL therefore carries a secret segment (base.callback_token, scope "speedsms").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ..messages import N_
from .base import (
    ErrorCodes,
    MalformedReceipt,
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

NAME = "speedsms"
DEFAULT_BASE_URL = "https://api.speedsms.vn/index.php"
SEND_PATH = "/sms/send"
BRANDNAME = 3
ERROR_CODES = ErrorCodes(
    "SpeedSMS",
    refused={"105": N_("SpeedSMS finds the phone number invalid")},
    transient={"500": N_("internal error at SpeedSMS")},
    config={
        "007": N_("this server's IP address is locked at SpeedSMS"),
        "008": N_("the SpeedSMS account is blocked"),
        "009": N_("the SpeedSMS account may not use the API"),
        "101": N_("invalid or missing parameters"),
        "110": N_("the content's encoding is not supported"),
        "113": N_("the content is too long"),
        "300": N_("not enough balance to send: top up the SpeedSMS account"),
    },
)
DELIVERED = 0


@dataclass(frozen=True)
class SpeedSmsSettings:
    """SpeedSMS from the environment (docs/channels.md); `webhook_base_url` is where the receipts route will be."""

    access_token: str = field(repr=False)
    sender: str
    webhook_base_url: str
    webhook_secret: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    sms_type: int = BRANDNAME
    timeout_seconds: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SpeedSmsSettings:
        return cls(
            access_token=environ.get("CHANNEL_SPEEDSMS_ACCESS_TOKEN", ""),
            sender=environ.get("CHANNEL_SPEEDSMS_SENDER", ""),
            webhook_base_url=environ.get("CHANNEL_SPEEDSMS_WEBHOOK_BASE_URL", "").rstrip("/"),
            webhook_secret=environ.get("CHANNEL_SPEEDSMS_WEBHOOK_SECRET", ""),
            base_url=(environ.get("CHANNEL_SPEEDSMS_BASE_URL") or DEFAULT_BASE_URL).rstrip("/"),
            sms_type=int(environ.get("CHANNEL_SPEEDSMS_SMS_TYPE") or BRANDNAME),
            timeout_seconds=timeout_from_env(environ),
        )


def webhook_url(settings: SpeedSmsSettings) -> str:
    """The delivery-report URL to set in the SpeedSMS dashboard: <webhook base>/<secret token>."""
    return f"{settings.webhook_base_url}/{callback_token(settings.webhook_secret, NAME)}"


def webhook_authentic(settings: SpeedSmsSettings, token: str) -> bool:
    return callback_token_valid(settings.webhook_secret, NAME, token)


class SpeedSmsProvider(SmsGateway):
    name = NAME
    settings: SpeedSmsSettings

    def submit(self, outgoing: Outgoing, content: str) -> Outcome:
        answer = exchange(
            self.http,
            "POST",
            self.settings.base_url + SEND_PATH,
            timeout=self.settings.timeout_seconds,
            auth=(self.settings.access_token, "x"),
            json={
                "to": [outgoing.phone],
                "content": content,
                "sms_type": self.settings.sms_type,
                "sender": self.settings.sender,
            },
        )
        if isinstance(answer, Outcome):
            return answer
        data = answer.get("data") or {}
        if answer.get("status") == "success":
            if outgoing.phone in (data.get("invalidPhone") or []):
                return ERROR_CODES.outcome("105")
            tran_id = data.get("tranId")
            return Outcome(OutcomeKind.ACCEPTED, provider_message_id=str(tran_id) if tran_id else None)
        return ERROR_CODES.outcome(str(answer.get("code") or ""), answer.get("message") or "")


def parse_report(report: object, received_at: datetime) -> Receipt | None:
    """The delivery a SpeedSMS report (the webhook's JSON body) tells; None for anything else it posts.

    MalformedReceipt when the body is no JSON object, or a report lacks its tranId or integer status.
    """
    if not isinstance(report, Mapping):
        raise MalformedReceipt("body", "a JSON object expected")
    if report.get("type") != "report":
        return None
    if report.get("tranId") in (None, ""):
        raise MalformedReceipt("tranId", "missing")
    try:
        status = int(report.get("status"))
    except (TypeError, ValueError):
        raise MalformedReceipt("status", "an integer expected") from None
    return Receipt(
        provider=NAME,
        status=ReceiptStatus.DELIVERED if status == DELIVERED else ReceiptStatus.FAILED,
        at=received_at,
        provider_message_id=str(report["tranId"]),
        detail=f"status {status} for {report.get('phone') or 'an unnamed phone'}",
    )
