"""Sending one message: by the ZNS and SMS providers, the signed webhook, or SMTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from email.message import EmailMessage

import requests

from ...models import Channel, OutboxMessage
from ..channels import esms, speedsms, zns
from ..channels.base import Outcome, OutcomeKind, Outgoing, Provider
from ..channels.phones import PhoneError, normalise_phone
from ..channels.templates import MessageKind
from ..notifications import (
    PROVIDER_CHANNELS,
    NotificationSettings,
    needs_owner_link,
    template_values,
    written_in,
)

SEND_TIMEOUT_SECONDS = 10


class DeliveryFailed(Exception):
    """A send did not succeed; the message is tried again later."""


def missing_settings(settings: NotificationSettings, channel: Channel) -> str | None:
    """Why `channel` cannot send now, or None when it is configured."""
    if channel == Channel.WEBHOOK:
        missing = [
            name
            for name, value in (
                ("NOTIFY_WEBHOOK_URL", settings.webhook_url),
                ("NOTIFY_WEBHOOK_SECRET", settings.webhook_secret),
            )
            if not value
        ]
    elif channel == Channel.ZNS:
        missing = [] if settings.zns else ["CHANNEL_ZNS_APP_ID and CHANNEL_ZNS_ACCESS_TOKEN"]
    elif channel == Channel.SMS:
        missing = [] if settings.sms else ["an SMS gateway (CHANNEL_ESMS_API_KEY or CHANNEL_SPEEDSMS_ACCESS_TOKEN)"]
    else:
        missing = [] if settings.smtp_host else ["SMTP_HOST"]
    return f"not sent: {' and '.join(missing)} not configured; waiting" if missing else None


def send(message: OutboxMessage, settings: NotificationSettings, zns_tokens: zns.TokenStore | None = None) -> Outcome:
    """Hand one message to its channel: the provider's Outcome; the webhook and SMTP raise DeliveryFailed unless
    they accepted it. A ZNS goes with the OA tokens of `zns_tokens` (the deliverer's DatabaseTokenStore).

    A message whose owner link was not minted (its assignment or commitment is
    gone) is never sent with the placeholder: it fails, and ends dead."""
    if needs_owner_link(message):
        raise DeliveryFailed("no owner link could be minted for this message (its assignment or commitment is gone)")
    if message.channel in PROVIDER_CHANNELS:
        return _send_by_provider(message, settings, zns_tokens)
    if message.channel == Channel.WEBHOOK:
        _post_webhook(message, settings)
    else:
        _send_email(message, settings)
    return Outcome(OutcomeKind.ACCEPTED)


def provider_name(channel: Channel, settings: NotificationSettings) -> str:
    """Which gateway sends `channel`: zns, esms, speedsms, webhook or smtp."""
    if channel == Channel.SMS:
        return esms.NAME if isinstance(settings.sms, esms.EsmsSettings) else speedsms.NAME
    return {Channel.ZNS: zns.NAME, Channel.WEBHOOK: "webhook", Channel.EMAIL: "smtp"}[channel]


def provider_for(channel: Channel, settings: NotificationSettings, zns_tokens: zns.TokenStore | None) -> Provider:
    if channel == Channel.ZNS:
        if zns_tokens is None:
            raise DeliveryFailed("a ZNS needs the OA tokens' store (the deliverer passes its own)")
        return zns.ZnsProvider(settings.zns, zns_tokens)
    if isinstance(settings.sms, esms.EsmsSettings):
        return esms.EsmsProvider(settings.sms)
    return speedsms.SpeedSmsProvider(settings.sms)


def _send_by_provider(
    message: OutboxMessage, settings: NotificationSettings, zns_tokens: zns.TokenStore | None
) -> Outcome:
    """ZNS or SMS: the kind's registered template filled with the message's values, to the normalised phone."""
    try:
        phone = normalise_phone(message.recipient)
    except PhoneError as error:
        return Outcome(OutcomeKind.REFUSED_FALL_BACK, detail=f"cannot go by {message.channel.value}: {error}")
    provider = provider_for(message.channel, settings, zns_tokens)
    callback = ""
    if provider.name == esms.NAME and settings.sms.callback_secret:
        callback = esms.callback_url(settings.sms, message.idempotency_key)
    return provider.send(
        Outgoing(
            message.idempotency_key,
            phone,
            MessageKind(message.kind),
            template_values(message),
            callback,
            written_in(message),
        )
    )


def webhook_body(message: OutboxMessage) -> bytes:
    """The exact bytes the gateway receives, and over which the signature is computed."""
    return json.dumps(
        {
            "idempotency_key": message.idempotency_key,
            "kind": message.kind,
            "to": message.recipient,
            "text": message.body,
            "data": message.payload,
            "created_at": message.created_at.isoformat(),
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    ).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """The X-Signature header: HMAC-SHA256 of the body with the shared secret."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def _post_webhook(message: OutboxMessage, settings: NotificationSettings) -> None:
    body = webhook_body(message)
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Idempotency-Key": message.idempotency_key,
        "X-Signature": signature(settings.webhook_secret, body),
    }
    try:
        response = requests.post(settings.webhook_url, data=body, headers=headers, timeout=SEND_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise DeliveryFailed(f"webhook: {type(error).__name__}: {error}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryFailed(f"webhook answered HTTP {response.status_code}: {response.text[:200]}")


def _send_email(message: OutboxMessage, settings: NotificationSettings) -> None:
    email = EmailMessage()
    email["From"] = settings.email_from
    email["To"] = message.recipient
    email["Subject"] = message.subject
    # The same Message-ID on every try lets a mail system recognise a repeat.
    digest = hashlib.sha256(message.idempotency_key.encode()).hexdigest()[:32]
    email["Message-ID"] = f"<{digest}@{settings.email_from.rpartition('@')[2] or 'camera-registry'}>"
    email["Idempotency-Key"] = message.idempotency_key
    email.set_content(message.body)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SEND_TIMEOUT_SECONDS) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
            smtp.send_message(email)
    except (smtplib.SMTPException, OSError) as error:
        raise DeliveryFailed(f"smtp: {type(error).__name__}: {error}") from None
