"""For the data-subject request tests: a request carried through to its end by the services."""

from __future__ import annotations

from camera_registry.models import SubjectRequestChannel, SubjectRequestKind
from camera_registry.services import subject_requests
from camera_registry.services.access import SYSTEM


def completed_access_request(session, owner_id: int) -> int:
    """An access request of the owner's, filed in person, acknowledged and completed; committed, its id."""
    found = subject_requests.file_for_owner(
        session, SYSTEM, owner_id, SubjectRequestKind.ACCESS, "", SubjectRequestChannel.IN_PERSON
    )
    subject_requests.acknowledge(session, SYSTEM, found.id)
    subject_requests.complete(session, SYSTEM, found.id)
    session.commit()
    return found.id
