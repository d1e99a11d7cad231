"""The commune police: warned when an owner has not answered."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ...models import (
    Assignment,
    Channel,
    OutboxMessage,
)
from ...timezones import local_time
from ..channels.templates import TEMPLATES, MessageKind
from ..wording import MESSAGE_LANGUAGES, say
from .outbox import Texts, _queue, request_page_url
from .settings import ChannelPlan

#: A duty phone is the commune police's, shared by its officers: Vietnamese, whatever one officer reads.
POLICE_LANGUAGE = MESSAGE_LANGUAGES[0]


def escalate_to_police(
    session: Session, assignment: Assignment, base_url: str, plan: ChannelPlan
) -> list[OutboxMessage]:
    """Warn the requesting commune's police (their duty phone: by SMS, or the webhook gateway) that an owner has
    not answered; it goes at once, night or day."""
    request = assignment.request
    phone = request.commune.police_phone
    if not phone:
        return []
    deadline = local_time(assignment.overwrite_deadline)  # when footage is lost, not when the answer was due
    page = request_page_url(base_url, request)
    parameters = {
        "assignment_id": str(assignment.id),
        "case_ref": request.case_ref,
        "owner_name": assignment.owner.name,
        "deadline": deadline,
    }
    short = TEMPLATES[MessageKind.ESCALATION].in_language(POLICE_LANGUAGE).short_text({**parameters, "link": page})
    subject = say(POLICE_LANGUAGE, "Camera owner has not answered – case %(case_ref)s", case_ref=request.case_ref)
    texts = Texts(short, subject, short, parameters, POLICE_LANGUAGE)
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
            "overwrite_deadline": assignment.overwrite_deadline.isoformat(),
        },
        assignment=assignment,
    )
