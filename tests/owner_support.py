"""For the owner tests: a request routed to owner a through the services, links to it, and the owner's pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from shapely import Point
from sqlalchemy import select

from camera_registry.models import LinkPurpose, SharingCommitment, User
from camera_registry.services import requests
from camera_registry.services.access import Actor, actor_for
from camera_registry.services.owner_links import issue_link

#: The clock the helpers set their requests and links by.
NOW = datetime.now(UTC)
POLICE_PHONE = "024 3942 1234"


def police_actor(session, username="police-a") -> Actor:
    return actor_for(session, session.scalar(select(User).where(User.username == username)))


def routed_assignment(session, world):
    """A request in front of lens-a, routed to owner a; commune A has a duty phone."""
    world.commune_a.police_phone = POLICE_PHONE
    request = requests.open_request(
        session,
        police_actor(session),
        case_ref="VV-2026-042",
        reason="Cướp giật",
        legal_basis="Điều 145 BLTTHS",
        incident=Point(105.8202, 21.02),
        window_start=NOW - timedelta(hours=3),
        window_end=NOW - timedelta(hours=2),
        public_base_url="http://127.0.0.1:5000",
    )
    [assignment] = request.assignments
    return assignment


def assignment_link(session, assignment, expires_at=None) -> str:
    """A link to the assignment for its owner, live until the footage may be overwritten unless told otherwise."""
    return issue_link(
        session,
        owner=assignment.owner,
        purpose=LinkPurpose.ASSIGNMENT,
        assignment=assignment,
        expires_at=expires_at or assignment.preservation_deadline,
    )


def commitment_link(session, world, commitment=True):
    """A renewal link for owner a (naming its commitment, or not), and the owner's id."""
    owner_id = world.objects["a"]["owner"]
    existing = session.get(SharingCommitment, world.objects["a"]["commitment"])
    return issue_link(
        session,
        owner=existing.owner,
        purpose=LinkPurpose.COMMITMENT,
        commitment=existing if commitment else None,
        expires_at=NOW + timedelta(days=30),
    ), owner_id


def fresh_csrf(client, token) -> str:
    """The CSRF token of the owner's page, as rendered now."""
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(f"/o/{token}").get_data(as_text=True)).group(1)


def consent_to_upload(client, token) -> str:
    """Consent on the owner's page to upload the footage oneself; the page's CSRF token, for the upload."""
    csrf = fresh_csrf(client, token)
    assert (
        client.post(
            f"/o/{token}", data={"csrf_token": csrf, "action": "consent", "handover": "owner_upload"}
        ).status_code
        == 303
    )
    return csrf
