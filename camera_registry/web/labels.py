"""What the staff pages call the audit trail's actors and events: roles, where contacts were shown, each
kind of a request's timeline (services.timeline.KINDS), and how requests ended, translated when shown."""

from __future__ import annotations

from flask_babel import lazy_gettext

from ..models import RequestOutcome, Role

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
