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

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import (
    Assignment,
    AssignmentStatus,
    Channel,
    FootageRequest,
    LinkPurpose,
    OutboxMessage,
    Owner,
    SharingCommitment,
    message_transition,
)
from ..models.base import utcnow
from ..timezones import local_time
from .access import SYSTEM
from .audit import record
from .channels.esms import NAME as esms_name
from .channels.esms import EsmsSettings
from .channels.quiet_hours import earliest_send
from .channels.speedsms import NAME as speedsms_name
from .channels.speedsms import SpeedSmsSettings
from .channels.templates import MessageKind, TemplateError
from .channels.templates import validate as validate_templates
from .channels.zns import ZnsSettings
from .owner_links import issue_link, revoke_links
from .workflow import transition_assignment

#: Where the token of an owner's link goes in a queued message: "/o/" + TOKEN_SLOT, filled in at send time.
#: Not a token (tokens are URL-safe base64), so it resolves to nothing.
TOKEN_SLOT = "{owner-link-token}"
#: The channels that send registered templates, filled with a message's parameters.
PROVIDER_CHANNELS = frozenset({Channel.ZNS, Channel.SMS})
#: The key of the ChannelPlan in a session's info.
CHANNEL_PLAN = "channel_plan"


@dataclass(frozen=True)
class ChannelPlan:
    """Which phone channels have a provider configured: they decide an owner's first channel and the next."""

    zns: bool = False
    sms: bool = False

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
        return ChannelPlan(zns=self.zns is not None, sms=self.sms is not None)

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


def owner_link_url(base_url: str, raw_token: str) -> str:
    return f"{base_url.rstrip('/')}/o/{raw_token}"


def request_page_url(base_url: str, request: FootageRequest) -> str:
    return f"{base_url.rstrip('/')}/requests/{request.id}"


@dataclass(frozen=True)
class Texts:
    """One message in both shapes: `short` for the webhook gateway, `subject` and `body` for e-mail, and
    `parameters` for the ZNS and SMS templates of its kind (channels/templates.py; the link is added when sent)."""

    short: str
    subject: str
    body: str
    parameters: dict = field(default_factory=dict)


def owner_route(owner: Owner, plan: ChannelPlan) -> list[tuple[Channel, str]]:
    """The channels that can reach an owner, in the order they are tried: their preferred one first, then ZNS
    for a phone on Zalo, SMS for a phone, e-mail for an address; only those with a provider configured."""
    route = []
    if owner.phone and owner.zalo and plan.zns:
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


def _queue(
    session: Session,
    *,
    key: str,
    kind: str,
    recipients: list[tuple[Channel, str]],
    texts: Texts,
    payload: dict,
    assignment: Assignment | None = None,
    now: datetime | None = None,
    deadline: datetime | None = None,
    falls_back_from: OutboxMessage | None = None,
) -> list[OutboxMessage]:
    """One outbox row per channel, keyed `<key>:<channel>`; a key already written is skipped.

    A ZNS or SMS row is due at the first moment the quiet hours allow for its
    kind from `now` (`deadline`: the preservation deadline of a new request); any other at once.
    """
    keys = {channel: f"{key}:{channel.value}" for channel, _ in recipients}
    taken = set(
        session.scalars(
            select(OutboxMessage.idempotency_key).where(OutboxMessage.idempotency_key.in_(list(keys.values())))
        )
    )
    messages = [
        OutboxMessage(
            kind=kind,
            channel=channel,
            recipient=recipient,
            idempotency_key=keys[channel],
            subject=texts.subject if channel == Channel.EMAIL else "",
            body=texts.body if channel == Channel.EMAIL else texts.short,
            payload={**payload, "parameters": texts.parameters} if channel in PROVIDER_CHANNELS else payload,
            assignment_id=assignment.id if assignment else None,
            next_attempt_at=earliest_send(now or utcnow(), MessageKind(kind), deadline)
            if channel in PROVIDER_CHANNELS
            else utcnow(),
            falls_back_from_id=falls_back_from.id if falls_back_from else None,
        )
        for channel, recipient in recipients
        if keys[channel] not in taken
    ]
    session.add_all(messages)
    session.flush()
    return messages


# --------------------------------------------------------------------------- owners: footage requests


def _police_unit(request: FootageRequest) -> str:
    return f"Công an {request.commune.name}"


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
        expires_at=assignment.preservation_deadline,
    )


def with_owner_link(message: OutboxMessage, raw_token: str) -> None:
    """Put the minted token into a claimed message's text and payload, in memory: `message` must be detached
    from every session (the deliverer's claimed messages are), so this is never written back."""
    slot, token = f"/o/{TOKEN_SLOT}", f"/o/{raw_token}"
    message.body = message.body.replace(slot, token)
    message.payload = {**message.payload, "link": message.payload["link"].replace(slot, token)}


def template_values(message: OutboxMessage) -> dict[str, str]:
    """A ZNS or SMS message's template parameters, with its link (the owner's, or the police's page)."""
    payload = message.payload or {}
    return {**payload.get("parameters", {}), "link": payload.get("link") or payload.get("page") or ""}


def _assignment_texts(assignment: Assignment, link_url: str, number: int | None = None) -> Texts:
    """The request, or its `number`th reminder."""
    request = assignment.request
    lead = f"Nhắc lại lần {number}: " if number else ""
    unit = _police_unit(request)
    ask = "giữ lại và bàn giao" if assignment.covered_by_commitment else "đồng ý cho trích xuất"
    window = f"từ {local_time(request.window_start)} đến {local_time(request.window_end)}"
    deadline = local_time(assignment.preservation_deadline)
    lenses = ", ".join(item.lens.external_id for item in assignment.lenses)
    short = (
        f"{lead}{unit} đề nghị ông/bà {ask} dữ liệu camera {window} (vụ việc {request.case_ref}), "
        f"trước {deadline}. Trả lời tại: {link_url}"
    )
    phone = request.commune.police_phone
    body = "\n".join(
        [
            f"Kính gửi {assignment.owner.name},",
            "",
            *([lead.strip(), ""] if lead else []),
            f"{unit} đề nghị ông/bà {ask} dữ liệu camera ghi lại {window}.",
            "",
            f"Vụ việc: {request.case_ref}",
            f"Căn cứ pháp lý: {request.legal_basis}",
            f"Mắt camera liên quan ({len(assignment.lenses)}): {lenses}",
            f"Cần giữ dữ liệu đến: {deadline} (sau thời điểm này đầu thu có thể ghi đè)",
            "",
            "Để trả lời (đồng ý, từ chối hoặc báo không có dữ liệu), mở liên kết dành riêng cho ông/bà:",
            link_url,
            "",
            f"Liên kết chỉ dùng cho đề nghị này và hết hạn lúc {deadline}; xin đừng chuyển cho người khác.",
            *([f"Điện thoại trực ban {unit}: {phone}"] if phone else []),
            "Thời gian theo giờ Việt Nam (UTC+7).",
        ]
    )
    subject = f"{lead}Đề nghị trích xuất dữ liệu camera – vụ việc {request.case_ref}"
    parameters = {
        "owner_name": assignment.owner.name,
        "police_unit": unit,
        "ask": ask,
        "window_start": local_time(request.window_start),
        "window_end": local_time(request.window_end),
        "case_ref": request.case_ref,
        "deadline": deadline,
        **({"number": str(number)} if number else {}),
    }
    return Texts(short, subject, body, parameters)


def _assignment_payload(assignment: Assignment, link_url: str) -> dict:
    return {
        "assignment_id": assignment.id,
        "request_id": assignment.request_id,
        "link": link_url,
        "preservation_deadline": assignment.preservation_deadline.isoformat(),
    }


def notify_assignment(
    session: Session, assignment: Assignment, link_url: str, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """Ask the owner to answer an assignment through `link_url` (`owner_link_slot`), on their first channel (or,
    without a provider, each they have); by ZNS or SMS at night only when its footage may be lost within a day."""
    return _queue(
        session,
        key=f"assignment:{assignment.id}:request",
        kind=MessageKind.REQUEST.value,
        recipients=owner_channels(assignment.owner, plan),
        texts=_assignment_texts(assignment, link_url),
        payload=_assignment_payload(assignment, link_url),
        assignment=assignment,
        now=now,
        deadline=assignment.preservation_deadline,
    )


def remind_assignment(
    session: Session, assignment: Assignment, link_url: str, number: int, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """The `number`th reminder of an unanswered assignment; like every message it gets a fresh link when sent, and
    by ZNS or SMS it waits out the quiet hours."""
    return _queue(
        session,
        key=f"assignment:{assignment.id}:reminder:{number}",
        kind=MessageKind.REMINDER.value,
        recipients=owner_channels(assignment.owner, plan),
        texts=_assignment_texts(assignment, link_url, number),
        payload={**_assignment_payload(assignment, link_url), "reminder": number},
        assignment=assignment,
        now=now,
    )


def announce_routed_request(session: Session, request: FootageRequest, base_url: str) -> int:
    """Send each pending assignment of a freshly routed request a message with its link, moving it to notified.

    An owner with neither phone nor e-mail stays pending: the police see they
    must call. Returns how many assignments were notified.
    """
    session.flush()
    plan, now = channel_plan(session), request.routed_at or utcnow()
    notified = 0
    for assignment in request.assignments:
        if assignment.status != AssignmentStatus.PENDING or not owner_channels(assignment.owner, plan):
            continue
        messages = notify_assignment(session, assignment, owner_link_slot(base_url), plan, now)
        transition_assignment(
            session,
            SYSTEM,
            assignment,
            "notify",
            details={"channels": sorted(message.channel.value for message in messages)},
        )
        notified += 1
    return notified


# --------------------------------------------------------------------------- the commune police


def escalate_to_police(
    session: Session, assignment: Assignment, base_url: str, plan: ChannelPlan
) -> list[OutboxMessage]:
    """Warn the requesting commune's police (their duty phone: by SMS, or the webhook gateway) that an owner has
    not answered; it goes at once, night or day."""
    request = assignment.request
    phone = request.commune.police_phone
    if not phone:
        return []
    deadline = local_time(assignment.preservation_deadline)
    page = request_page_url(base_url, request)
    short = (
        f"Phiếu #{assignment.id} (vụ việc {request.case_ref}): chủ camera {assignment.owner.name} chưa trả lời; "
        f"dữ liệu có thể bị ghi đè sau {deadline}. Xem: {page}"
    )
    parameters = {
        "assignment_id": str(assignment.id),
        "case_ref": request.case_ref,
        "owner_name": assignment.owner.name,
        "deadline": deadline,
    }
    texts = Texts(short, f"Chủ camera chưa trả lời – vụ việc {request.case_ref}", short, parameters)
    return _queue(
        session,
        key=f"assignment:{assignment.id}:escalation",
        kind=MessageKind.ESCALATION.value,
        recipients=[(Channel.SMS if plan.sms else Channel.WEBHOOK, phone)],
        texts=texts,
        payload={
            "assignment_id": assignment.id,
            "request_id": request.id,
            "page": page,
            "preservation_deadline": assignment.preservation_deadline.isoformat(),
        },
        assignment=assignment,
    )


# --------------------------------------------------------------------------- owners: commitments


def last_valid_day(valid_until: datetime) -> str:
    """A commitment valid until midnight starting day D+1 holds through day D, as the owner signed it."""
    return local_time(valid_until - timedelta(microseconds=1), "%d/%m/%Y")


def _renewal_texts(commitment: SharingCommitment, link_url: str) -> Texts:
    owner = commitment.owner
    last_day = last_valid_day(commitment.valid_until)
    short = (
        f"Cam kết chia sẻ dữ liệu Camera an ninh của ông/bà hết hiệu lực sau ngày {last_day}. Gia hạn tại: {link_url}"
    )
    phone = owner.commune.police_phone if owner.commune else None
    body = "\n".join(
        [
            f"Kính gửi {owner.name},",
            "",
            f"Cam kết chia sẻ dữ liệu camera ông/bà đã ký ngày {local_time(commitment.signed_at, '%d/%m/%Y')} "
            f"có hiệu lực đến hết ngày {last_day}.",
            "Để tiếp tục tham gia chương trình Camera an ninh, xin đọc và gia hạn cam kết tại liên kết dành riêng "
            "cho ông/bà:",
            link_url,
            "",
            "Tại liên kết này ông/bà cũng có thể không gia hạn hoặc rút lại cam kết.",
            *([f"Điện thoại trực ban Công an {owner.commune.name}: {phone}"] if phone else []),
        ]
    )
    parameters = {"owner_name": owner.name, "last_day": last_day}
    return Texts(short, "Mời gia hạn cam kết chia sẻ dữ liệu Camera an ninh", body, parameters)


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


# --------------------------------------------------------------------------- fallback to the next channel


#: The most characters of a provider's word kept on a message.
MAX_DETAIL_LENGTH = 1000


def move_message(session: Session, message: OutboxMessage, action: str, audited_as: str, note: str, **details) -> None:
    """Change a message's state by its transition table (MessageTransitionRefused otherwise), audited as
    `audited_as` with what identifies the message, and `details`."""
    before = message.status
    message.status = message_transition(before, action)
    record(
        session,
        SYSTEM,
        audited_as,
        "outbox_message",
        message.id,
        from_state=before.value,
        to_state=message.status.value,
        note=note,
        details={
            "kind": message.kind,
            "channel": message.channel.value,
            "idempotency_key": message.idempotency_key,
            "assignment_id": message.assignment_id,
            **details,
        },
    )


def fail_message(
    session: Session, message: OutboxMessage, action: str, detail: str, plan: ChannelPlan, now: datetime
) -> OutboxMessage | None:
    """`message` did not reach its owner (`action`: refuse, fail or time_out, by the transition table): mark it
    failed, queue the fallback on the next channel and audit both, in the caller's write unit; the fallback."""
    fallback = queue_fallback(session, message, plan, now)
    message.failed_at, message.receipt_detail = now, detail[:MAX_DETAIL_LENGTH]
    move_message(
        session,
        message,
        action,
        "notification.failed",
        message.receipt_detail,
        fallback={"id": fallback.id, "channel": fallback.channel.value} if fallback else None,
    )
    return fallback


def queue_fallback(session: Session, failed: OutboxMessage, plan: ChannelPlan, now: datetime) -> OutboxMessage | None:
    """The same message on the owner's next channel after `failed` (refused, or not delivered in time), naming the
    one it replaces; None when no channel is left, or for an escalation (the police's duty phone has one).

    Call it in the write unit that fails `failed`. Its key is the same key on the
    next channel, so a fallback is queued once.
    """
    rendered = _render_again(session, failed)
    if rendered is None:
        return None
    owner, texts, assignment = rendered
    route = owner_route(owner, plan)
    channels = [channel for channel, _ in route]
    if failed.channel not in channels or channels.index(failed.channel) + 1 == len(route):
        return None
    payload = {name: value for name, value in failed.payload.items() if name != "parameters"}
    queued = _queue(
        session,
        key=failed.idempotency_key.rsplit(":", 1)[0],
        kind=failed.kind,
        recipients=[route[channels.index(failed.channel) + 1]],
        texts=texts,
        payload=payload,
        assignment=assignment,
        now=now,
        falls_back_from=failed,
    )
    return queued[0] if queued else None


def _render_again(session: Session, message: OutboxMessage) -> tuple[Owner, Texts, Assignment | None] | None:
    """An owner message's texts made again from its assignment or commitment, with the link slot it was queued with."""
    link_url = (message.payload or {}).get("link")
    if message.kind == MessageKind.RENEWAL.value:
        commitment = session.get(SharingCommitment, message.payload.get("commitment_id"))
        return None if commitment is None else (commitment.owner, _renewal_texts(commitment, link_url), None)
    if message.kind not in (MessageKind.REQUEST.value, MessageKind.REMINDER.value) or message.assignment_id is None:
        return None
    assignment = session.get(Assignment, message.assignment_id)
    if assignment is None:
        return None
    return assignment.owner, _assignment_texts(assignment, link_url, message.payload.get("reminder")), assignment
