"""Which channels are configured, and the settings the notification loop reads from the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta

from sqlalchemy.orm import Session

from ..channels.esms import NAME as esms_name
from ..channels.esms import EsmsSettings
from ..channels.speedsms import NAME as speedsms_name
from ..channels.speedsms import SpeedSmsSettings
from ..channels.templates import ZNS_KINDS, TemplateError
from ..channels.templates import validate as validate_templates
from ..channels.zns import ZnsSettings
from ..wording import MESSAGE_LANGUAGES

#: The key of the ChannelPlan in a session's info.
CHANNEL_PLAN = "channel_plan"


@dataclass(frozen=True)
class ChannelPlan:
    """Which phone channels have a provider configured: they decide an owner's first channel and the next.
    `zns_languages`: the languages Zalo approved our templates in; an owner reading another goes by SMS."""

    zns: bool = False
    sms: bool = False
    zns_languages: frozenset[str] = frozenset(MESSAGE_LANGUAGES[:1])

    @property
    def by_provider(self) -> bool:
        return self.zns or self.sms


def channel_plan(session: Session) -> ChannelPlan:
    return session.info.get(CHANNEL_PLAN) or ChannelPlan()


class ChannelSetupError(RuntimeError):
    """A configured ZNS or SMS provider whose message templates cannot be sent: the process must not start."""


def check_templates(settings: NotificationSettings) -> None:
    """Validate the message templates (and the approved ZNS template ids) when a provider is configured, so a
    template that cannot be sent stops the start, not a request at 23:00."""
    if not settings.channel_plan.by_provider:
        return
    try:
        validate_templates(settings.zns.template_ids if settings.zns else None)
    except TemplateError as error:
        raise ChannelSetupError(f"not starting: the ZNS/SMS message templates cannot be sent: {error}") from None


@dataclass(frozen=True)
class NotificationSettings:
    """What the notification loop needs from the configuration, as plain values (docs/configuration.md)."""

    public_base_url: str
    webhook_url: str
    webhook_secret: str = field(repr=False)
    smtp_host: str
    smtp_port: int
    smtp_username: str
    smtp_password: str = field(repr=False)
    smtp_starttls: bool
    email_from: str
    max_attempts: int
    backoff_seconds: float
    reminder_hours: float
    max_reminders: int
    escalation_hours: float
    #: How long a deliverer's claim on a message lasts unrenewed, and the scheduler's single-runner lease:
    #: what a dead scheduler costs before another one takes over.
    claim_lease_seconds: float = 90.0
    jobs_lease_seconds: float = 60.0
    #: The providers configured (None: not configured) and the SMS gateway chosen (eSMS or SpeedSMS).
    zns: ZnsSettings | None = None
    sms: EsmsSettings | SpeedSmsSettings | None = None
    #: How long a sent ZNS waits for its receipt before the SMS goes (NOTIFY_RECEIPT_WAIT_MINUTES).
    receipt_wait_minutes: float = 15.0

    @classmethod
    def from_config(cls, config: Mapping) -> NotificationSettings:
        return cls(
            public_base_url=config["PUBLIC_BASE_URL"].rstrip("/"),
            webhook_url=config["NOTIFY_WEBHOOK_URL"],
            webhook_secret=config["NOTIFY_WEBHOOK_SECRET"],
            smtp_host=config["SMTP_HOST"],
            smtp_port=config["SMTP_PORT"],
            smtp_username=config["SMTP_USERNAME"],
            smtp_password=config["SMTP_PASSWORD"],
            smtp_starttls=config["SMTP_STARTTLS"],
            email_from=config["NOTIFY_EMAIL_FROM"],
            max_attempts=config["NOTIFY_MAX_ATTEMPTS"],
            backoff_seconds=config["NOTIFY_BACKOFF_SECONDS"],
            reminder_hours=config["REMINDER_HOURS"],
            max_reminders=config["MAX_REMINDERS"],
            escalation_hours=config["ESCALATION_HOURS"],
            claim_lease_seconds=config.get("NOTIFY_CLAIM_LEASE_SECONDS", cls.claim_lease_seconds),
            jobs_lease_seconds=config.get("SCHEDULER_LEASE_SECONDS", cls.jobs_lease_seconds),
            zns=_zns_settings(config),
            sms=_sms_settings(config, config["PUBLIC_BASE_URL"].rstrip("/")),
            receipt_wait_minutes=config.get("NOTIFY_RECEIPT_WAIT_MINUTES", cls.receipt_wait_minutes),
        )

    @property
    def channel_plan(self) -> ChannelPlan:
        if self.zns is None:
            return ChannelPlan(sms=self.sms is not None)
        approved = frozenset(
            language
            for language, ids in self.zns.template_ids.items()
            if all((ids.get(kind) or "").strip() for kind in ZNS_KINDS)
        )
        return ChannelPlan(zns=True, sms=self.sms is not None, zns_languages=approved)

    @property
    def receipt_wait(self) -> timedelta:
        return timedelta(minutes=self.receipt_wait_minutes)

    @property
    def reminder_interval(self) -> timedelta:
        return timedelta(hours=self.reminder_hours)

    @property
    def escalation_window(self) -> timedelta:
        return timedelta(hours=self.escalation_hours)

    @property
    def claim_lease(self) -> timedelta:
        return timedelta(seconds=self.claim_lease_seconds)

    @property
    def jobs_lease(self) -> timedelta:
        return timedelta(seconds=self.jobs_lease_seconds)


def _zns_settings(config: Mapping) -> ZnsSettings | None:
    """ZNS, when its app and first access token are set."""
    zns = ZnsSettings.from_env(config)
    return zns if zns.app_id and zns.tokens.access_token else None


def _sms_settings(config: Mapping, base_url: str) -> EsmsSettings | SpeedSmsSettings | None:
    """The SMS gateway CHANNEL_SMS_GATEWAY names, or the first one configured (eSMS, then SpeedSMS); the receipts
    routes under PUBLIC_BASE_URL unless their base URL is set."""
    esms = EsmsSettings.from_env(config)
    if not esms.callback_base_url:
        esms = replace(esms, callback_base_url=f"{base_url}/hooks/esms")
    speedsms = SpeedSmsSettings.from_env(config)
    if not speedsms.webhook_base_url:
        speedsms = replace(speedsms, webhook_base_url=f"{base_url}/hooks/speedsms")
    configured = {esms_name: esms if esms.api_key else None, speedsms_name: speedsms if speedsms.access_token else None}
    chosen = (config.get("CHANNEL_SMS_GATEWAY") or "").strip().lower()
    if chosen:
        return configured.get(chosen)
    return configured[esms_name] or configured[speedsms_name]
