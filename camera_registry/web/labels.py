"""What the staff pages call the codes they show: roles, where contacts were shown, each kind of a request's
timeline (services.timeline.KINDS), how requests ended, the states of requests, assignments and messages, and
routing's and owners' reasons, translated when shown. Every member of each enum has its words here
(tests/test_browser_police_languages.py checks), so a page never shows a bare code."""

from __future__ import annotations

from flask_babel import lazy_gettext

from ..models import AssignmentStatus, Channel, Handover, MessageStatus, RequestOutcome, RequestStatus, Role
from ..services.channels.templates import MessageKind
from ..services.routing import SkipReason

ROLES = {
    Role.ADMIN: lazy_gettext("administrator"),
    Role.PROVINCE_STAFF: lazy_gettext("province staff"),
    Role.DISTRICT_STAFF: lazy_gettext("district staff"),
    Role.COMMUNE_POLICE: lazy_gettext("commune police"),
}

#: Where an owner's contacts were shown (the `seen_on` of their audited disclosure).
SEEN_ON = {
    "request_page": lazy_gettext("on the request page"),
    "map": lazy_gettext("on the coverage map"),
    "owners_api": lazy_gettext("through the owners API"),
    "place_search": lazy_gettext("in the place search"),
    "consents_api": lazy_gettext("through the consents API"),
    None: lazy_gettext("not recorded"),
}

TIMELINE_KINDS = {
    "request.create": lazy_gettext("Request drafted"),
    "request.open": lazy_gettext("Request opened"),
    "request.route": lazy_gettext("Sent to the camera owners"),
    "request.start": lazy_gettext("Work on the request started"),
    "request.resolve": lazy_gettext("Request resolved"),
    "request.cancel": lazy_gettext("Request cancelled"),
    "request.expire": lazy_gettext("Request expired"),
    "assignment.notify": lazy_gettext("Owner notified"),
    "assignment.view": lazy_gettext("Owner opened the link"),
    "assignment.consent": lazy_gettext("Consent to provide footage"),
    "assignment.decline": lazy_gettext("Declined"),
    "assignment.report_no_footage": lazy_gettext("No footage"),
    "assignment.receive_footage": lazy_gettext("Footage received"),
    "assignment.close": lazy_gettext("Assignment closed"),
    "assignment.expire": lazy_gettext("Expired unanswered"),
    "assignment.withdraw": lazy_gettext("Withdrawn with the request"),
    "assignment.remind": lazy_gettext("Reminder"),
    "assignment.escalate": lazy_gettext("Commune police warned before the footage is overwritten"),
    "clip.upload_started": lazy_gettext("Upload started"),
    "clip.upload_refused": lazy_gettext("Upload refused"),
    "clip.upload_terminated": lazy_gettext("Upload cancelled"),
    "clip.upload_expired": lazy_gettext("Unfinished upload dropped"),
    "clip.upload_finished": lazy_gettext("Clip uploaded"),
    "clip.downloaded": lazy_gettext("Clip downloaded"),
    "clip.deleted": lazy_gettext("Clip deleted under the retention rule"),
    "evidence.package_created": lazy_gettext("Evidence package downloaded"),
    "owner.contacts_read": lazy_gettext("Owners' contacts shown"),
    "message.queued": lazy_gettext("Message queued"),
    "message.sent": lazy_gettext("Message sent"),
    "message.delivered": lazy_gettext("Message delivered"),
    "message.failed": lazy_gettext("Message not delivered"),
}

#: How a request ended (models.RequestOutcome), shown on the request list and page instead of its bare status.
OUTCOMES = {
    RequestOutcome.OPEN: lazy_gettext("Under way"),
    RequestOutcome.RESOLVED_WITH_FOOTAGE: lazy_gettext("Resolved with footage"),
    RequestOutcome.RESOLVED_WITHOUT_FOOTAGE: lazy_gettext("Resolved without footage (declined, no footage)"),
    RequestOutcome.EXPIRED_UNANSWERED: lazy_gettext("Expired, no owner answered"),
    RequestOutcome.CANCELLED: lazy_gettext("Cancelled"),
}

#: Where a request is in its life (models.RequestStatus), beside how it ended.
REQUEST_STATUSES = {
    RequestStatus.DRAFT: lazy_gettext("Draft"),
    RequestStatus.OPEN: lazy_gettext("Opened, not yet sent"),
    RequestStatus.ROUTED: lazy_gettext("Sent to the owners"),
    RequestStatus.IN_PROGRESS: lazy_gettext("Owners answering"),
    RequestStatus.RESOLVED: lazy_gettext("Resolved"),
    RequestStatus.CANCELLED: lazy_gettext("Cancelled"),
    RequestStatus.EXPIRED: lazy_gettext("Expired"),
}

ASSIGNMENT_STATUSES = {
    AssignmentStatus.PENDING: lazy_gettext("Not sent yet"),
    AssignmentStatus.NOTIFIED: lazy_gettext("Owner notified"),
    AssignmentStatus.VIEWED: lazy_gettext("Owner opened the link"),
    AssignmentStatus.CONSENTED: lazy_gettext("Consented"),
    AssignmentStatus.DECLINED: lazy_gettext("Declined"),
    AssignmentStatus.NO_FOOTAGE: lazy_gettext("No footage"),
    AssignmentStatus.FOOTAGE_RECEIVED: lazy_gettext("Footage received"),
    AssignmentStatus.CLOSED: lazy_gettext("Closed"),
    AssignmentStatus.EXPIRED: lazy_gettext("Expired unanswered"),
}

#: The buttons of the police's steps on an assignment (schemas.requests.POLICE_ACTIONS).
ASSIGNMENT_ACTIONS = {
    "consent": lazy_gettext("Consents to provide"),
    "decline": lazy_gettext("Declined"),
    "report_no_footage": lazy_gettext("No footage"),
    "receive_footage": lazy_gettext("Footage received"),
    "close": lazy_gettext("Close the assignment"),
}

HANDOVERS = {
    Handover.POLICE_COPY: lazy_gettext("The police come to copy it"),
    Handover.OWNER_UPLOAD: lazy_gettext("The owner uploads it"),
}

#: Why an owner has no footage (services.owner_answers.NO_FOOTAGE_REASONS), the start of their answer's note.
NO_FOOTAGE_REASONS = {
    "camera_off": lazy_gettext("The camera was off or broken"),
    "overwritten": lazy_gettext("The recorder has already overwritten it"),
    "other": lazy_gettext("Other reason"),
}

#: Why routing sent no request for a lens within the radius (services.routing.SkipReason).
SKIP_REASONS = {
    SkipReason.INACTIVE: lazy_gettext("not active"),
    SkipReason.OUT_OF_VIEW: lazy_gettext("facing elsewhere"),
    SkipReason.OVERWRITTEN: lazy_gettext("footage already overwritten"),
}

#: What a message to an owner is for (its outbox kind).
MESSAGE_KINDS = {
    MessageKind.REQUEST: lazy_gettext("request"),
    MessageKind.REMINDER: lazy_gettext("reminder"),
    MessageKind.RENEWAL: lazy_gettext("commitment renewal"),
    MessageKind.INVITATION: lazy_gettext("invitation to sign a commitment"),
    MessageKind.ESCALATION: lazy_gettext("warning to the commune police"),
}

#: By the channel's value, as the timeline's message details name it too.
CHANNELS = {
    Channel.ZNS.value: lazy_gettext("Zalo message"),
    Channel.SMS.value: lazy_gettext("SMS message"),
    Channel.EMAIL.value: lazy_gettext("e-mail message"),
    Channel.WEBHOOK.value: lazy_gettext("gateway message"),
}

MESSAGE_STATUSES = {
    MessageStatus.PENDING: lazy_gettext("queued"),
    MessageStatus.SENT: lazy_gettext("sent"),
    MessageStatus.DELIVERED: lazy_gettext("delivered"),
    MessageStatus.FAILED: lazy_gettext("failed"),
    MessageStatus.DEAD: lazy_gettext("gave up"),
}


def answer_note(note: str | None) -> str:
    """An owner's note with the no-footage reason it starts with (owner_answers: "camera_off: ...") in words."""
    if not note:
        return ""
    code, _, rest = note.partition(": ")
    if code in NO_FOOTAGE_REASONS:
        return f"{NO_FOOTAGE_REASONS[code]}: {rest}" if rest else str(NO_FOOTAGE_REASONS[code])
    return note
