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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
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
)
from ..timezones import local_time
from .access import SYSTEM
from .owner_links import issue_link
from .workflow import transition_assignment

#: Where the token of an owner's link goes in a queued message: "/o/" + TOKEN_SLOT, filled in at send time.
#: Not a token (tokens are URL-safe base64), so it resolves to nothing.
TOKEN_SLOT = "{owner-link-token}"


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
        )

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


def owner_link_url(base_url: str, raw_token: str) -> str:
    return f"{base_url.rstrip('/')}/o/{raw_token}"


def request_page_url(base_url: str, request: FootageRequest) -> str:
    return f"{base_url.rstrip('/')}/requests/{request.id}"


@dataclass(frozen=True)
class Texts:
    """One message in both shapes: `short` for SMS/Zalo, `subject` and `body` for e-mail."""

    short: str
    subject: str
    body: str


def owner_channels(owner: Owner) -> list[tuple[Channel, str]]:
    """Where an owner can be reached: the SMS/Zalo gateway for a phone, e-mail for an address; both when both."""
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
) -> list[OutboxMessage]:
    """One outbox row per channel, keyed `<key>:<channel>`; a key already written is skipped."""
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
            payload=payload,
            assignment_id=assignment.id if assignment else None,
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
    its assignment or commitment is gone.
    """
    if not needs_owner_link(message):
        return None
    commitment_id = message.payload.get("commitment_id")
    if commitment_id is not None:
        commitment = session.get(SharingCommitment, commitment_id)
        if commitment is None or commitment.valid_until is None:
            return None
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


def _assignment_texts(assignment: Assignment, link_url: str, lead: str = "") -> Texts:
    request = assignment.request
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
    return Texts(short, subject, body)


def _assignment_payload(assignment: Assignment, link_url: str) -> dict:
    return {
        "assignment_id": assignment.id,
        "request_id": assignment.request_id,
        "link": link_url,
        "preservation_deadline": assignment.preservation_deadline.isoformat(),
    }


def notify_assignment(session: Session, assignment: Assignment, link_url: str) -> list[OutboxMessage]:
    """Ask the owner to answer an assignment through `link_url` (`owner_link_slot`), on each channel they have."""
    return _queue(
        session,
        key=f"assignment:{assignment.id}:request",
        kind="assignment.request",
        recipients=owner_channels(assignment.owner),
        texts=_assignment_texts(assignment, link_url),
        payload=_assignment_payload(assignment, link_url),
        assignment=assignment,
    )


def remind_assignment(session: Session, assignment: Assignment, link_url: str, number: int) -> list[OutboxMessage]:
    """The `number`th reminder of an unanswered assignment; like every message it gets a fresh link when sent."""
    return _queue(
        session,
        key=f"assignment:{assignment.id}:reminder:{number}",
        kind="assignment.reminder",
        recipients=owner_channels(assignment.owner),
        texts=_assignment_texts(assignment, link_url, lead=f"Nhắc lại lần {number}: "),
        payload={**_assignment_payload(assignment, link_url), "reminder": number},
        assignment=assignment,
    )


def announce_routed_request(session: Session, request: FootageRequest, base_url: str) -> int:
    """Send each pending assignment of a freshly routed request a message with its link, moving it to notified.

    An owner with neither phone nor e-mail stays pending: the police see they
    must call. Returns how many assignments were notified.
    """
    session.flush()
    notified = 0
    for assignment in request.assignments:
        if assignment.status != AssignmentStatus.PENDING or not owner_channels(assignment.owner):
            continue
        messages = notify_assignment(session, assignment, owner_link_slot(base_url))
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


def escalate_to_police(session: Session, assignment: Assignment, base_url: str) -> list[OutboxMessage]:
    """Warn the requesting commune's police (their duty phone, by webhook) that an owner has not answered."""
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
    texts = Texts(short, f"Chủ camera chưa trả lời – vụ việc {request.case_ref}", short)
    return _queue(
        session,
        key=f"assignment:{assignment.id}:escalation",
        kind="assignment.escalation",
        recipients=[(Channel.WEBHOOK, phone)],
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


def invite_renewal(session: Session, commitment: SharingCommitment, base_url: str) -> list[OutboxMessage]:
    """Invite the owner to renew a commitment that is running out, through a new commitment link (minted when
    the invitation is sent, valid until `valid_until`)."""
    owner = commitment.owner
    recipients = owner_channels(owner)
    if not recipients:
        return []
    link_url = owner_link_slot(base_url)
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
    texts = Texts(short, "Mời gia hạn cam kết chia sẻ dữ liệu Camera an ninh", body)
    return _queue(
        session,
        key=f"commitment:{commitment.id}:renewal",
        kind="commitment.renewal",
        recipients=recipients,
        texts=texts,
        payload={"commitment_id": commitment.id, "link": link_url, "valid_until": commitment.valid_until.isoformat()},
    )
