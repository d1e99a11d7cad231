"""Owners: a footage request's assignment announced, and reminded."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from ...models import (
    Assignment,
    AssignmentStatus,
    FootageRequest,
    OutboxMessage,
)
from ...models.base import utcnow
from ...timezones import local_time
from ..access import SYSTEM
from ..channels.templates import MessageKind
from ..workflow import transition_assignments
from .outbox import Letter, Texts, _queue, owner_channels, owner_link_slot, queue_letters
from .settings import ChannelPlan, channel_plan


def _police_unit(request: FootageRequest) -> str:
    return f"Công an {request.commune.name}"


def _assignment_texts(assignment: Assignment, link_url: str, number: int | None = None) -> Texts:
    """The request, or its `number`th reminder. Two deadlines, told apart: the footage is kept until the recorder
    overwrites it (`overwrite_deadline`), and the answer is due by the assignment's `preservation_deadline`, which
    the police's reply deadline may bring forward; the link expires with it."""
    request = assignment.request
    lead = f"Nhắc lại lần {number}: " if number else ""
    unit = _police_unit(request)
    ask = "giữ lại và bàn giao" if assignment.covered_by_commitment else "đồng ý cho trích xuất"
    window = f"từ {local_time(request.window_start)} đến {local_time(request.window_end)}"
    keep_until = local_time(assignment.overwrite_deadline)
    answer_by = local_time(assignment.preservation_deadline)
    lenses = ", ".join(item.lens.external_id for item in assignment.lenses)
    short = (
        f"{lead}{unit} đề nghị ông/bà {ask} dữ liệu camera {local_time(request.window_start)}-"
        f"{local_time(request.window_end)} (vụ việc {request.case_ref}). "
        f"Giữ đến {keep_until}, trả lời trước {answer_by}: {link_url}"
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
            f"Cần giữ dữ liệu đến: {keep_until} (sau thời điểm này đầu thu có thể ghi đè)",
            *([f"Công an cần câu trả lời trước: {answer_by}"] if request.deadline is not None else []),
            "",
            "Để trả lời (đồng ý, từ chối hoặc báo không có dữ liệu), mở liên kết dành riêng cho ông/bà:",
            link_url,
            "",
            f"Liên kết chỉ dùng cho đề nghị này và hết hạn lúc {answer_by}; xin đừng chuyển cho người khác.",
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
        "keep_until": keep_until,
        "deadline": answer_by,
        **({"number": str(number)} if number else {}),
    }
    return Texts(short, subject, body, parameters)


def _assignment_payload(assignment: Assignment, link_url: str) -> dict:
    return {
        "assignment_id": assignment.id,
        "request_id": assignment.request_id,
        "link": link_url,
        "preservation_deadline": assignment.preservation_deadline.isoformat(),
        "overwrite_deadline": assignment.overwrite_deadline.isoformat(),
    }


def _request_letter(assignment: Assignment, link_url: str, plan: ChannelPlan, now: datetime) -> Letter:
    return Letter(
        key=f"assignment:{assignment.id}:request",
        kind=MessageKind.REQUEST.value,
        recipients=owner_channels(assignment.owner, plan),
        texts=_assignment_texts(assignment, link_url),
        payload=_assignment_payload(assignment, link_url),
        assignment=assignment,
        now=now,
        deadline=assignment.preservation_deadline,
    )


def notify_assignment(
    session: Session, assignment: Assignment, link_url: str, plan: ChannelPlan, now: datetime
) -> list[OutboxMessage]:
    """Ask the owner to answer an assignment through `link_url` (`owner_link_slot`), on their first channel (or,
    without a provider, each they have); by ZNS or SMS at night only when its footage may be lost within a day."""
    return queue_letters(session, [_request_letter(assignment, link_url, plan, now)])[0]


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
    link_url = owner_link_slot(base_url)
    notified = [
        assignment
        for assignment in request.assignments
        if assignment.status == AssignmentStatus.PENDING and owner_channels(assignment.owner, plan)
    ]
    queued = queue_letters(session, [_request_letter(assignment, link_url, plan, now) for assignment in notified])
    channels = {
        assignment.id: {"channels": sorted(message.channel.value for message in messages)}
        for assignment, messages in zip(notified, queued)
    }
    transition_assignments(session, SYSTEM, request, notified, "notify", channels)
    return len(notified)
