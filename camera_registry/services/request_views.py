"""What a footage request looks like to those who read it: the police's page (owners' contacts, uploaded clips,
whether each owner's messages arrived) and the API's detail. Reads only, apart from the audit of contacts shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from geoalchemy2.shape import to_shape
from shapely.geometry.base import BaseGeometry
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..geo.mapview import simplified_for_zoom
from ..models import AdminUnit, Assignment, Channel, FootageClip, FootageRequest, MessageStatus, OutboxMessage
from .access import Actor
from .channels.templates import MessageKind
from .owners import OwnerCard, owner_cards
from .requests import get_request
from .timeline import TimelineEvent, request_timeline

#: The request maps draw the commune's outline simplified for this zoom, the closest they go (a pixel is about a
#: metre): a real boundary can hold tens of thousands of vertices, and the stored one decides nothing here.
DRAWN_ZOOM = 17


@dataclass(frozen=True)
class Delivery:
    """How one message to an owner went, for the police to see whether it arrived; never its recipient, body or
    link, which may carry the owner's link token."""

    id: int
    kind: str
    channel: Channel
    status: MessageStatus
    created_at: datetime
    sent_at: datetime | None
    delivered_at: datetime | None
    failed_at: datetime | None
    falls_back_from_id: int | None  # the message on the previous channel this one replaced

    @property
    def status_at(self) -> datetime:
        """When it came to its status; queued and given-up messages show when they were queued."""
        moments = {MessageStatus.SENT: self.sent_at, MessageStatus.DELIVERED: self.delivered_at}
        return moments.get(self.status, self.failed_at) or self.created_at


def request_deliveries(session: Session, request: FootageRequest) -> dict[int, list[Delivery]]:
    """Each assignment's messages to its owner, newest first; the escalations go to the police, not the owner."""
    deliveries: dict[int, list[Delivery]] = {}
    for message in session.scalars(
        select(OutboxMessage)
        .join(Assignment)
        .where(Assignment.request_id == request.id, OutboxMessage.kind != MessageKind.ESCALATION.value)
        .order_by(OutboxMessage.created_at.desc(), OutboxMessage.id.desc())
    ):
        deliveries.setdefault(message.assignment_id, []).append(
            Delivery(
                message.id,
                message.kind,
                message.channel,
                message.status,
                message.created_at,
                message.sent_at,
                message.delivered_at,
                message.failed_at,
                message.falls_back_from_id,
            )
        )
    return deliveries


@dataclass(frozen=True)
class RequestDetail:
    """A request with its owners' deliveries, as the API's detail shows it."""

    request: FootageRequest
    deliveries: dict[int, list[Delivery]]  # by assignment


def request_detail(session: Session, actor: Actor, request_id: int) -> RequestDetail:
    """The API's request detail: no contacts are shown, so nothing is disclosed to audit."""
    request = get_request(session, actor, request_id)
    return RequestDetail(request, request_deliveries(session, request))


@dataclass(frozen=True)
class RequestPage:
    """A request with what the page may show of each owner it was routed to."""

    request: FootageRequest
    owners: dict[int, OwnerCard]
    commune_boundary: BaseGeometry | None
    can_act: bool
    clips: dict[int, list[FootageClip]]  # by assignment: what owners uploaded
    deliveries: dict[int, list[Delivery]]  # by assignment: whether the owner's messages arrived
    timeline: list[TimelineEvent]  # its history, oldest first


def request_page(session: Session, actor: Actor, request_id: int) -> RequestPage:
    """The request page: police of its commune see owners' phones to call (each disclosure audited), whether
    each owner's messages arrived, and the request's history."""
    request = get_request(session, actor, request_id)
    cards = owner_cards(
        session, actor, [a.owner for a in request.assignments], seen_on="request_page", request_id=request.id
    )
    boundary = _drawn(request.commune)
    clips: dict[int, list[FootageClip]] = {}
    for clip in session.scalars(
        select(FootageClip).join(Assignment).where(Assignment.request_id == request.id).order_by(FootageClip.id)
    ):
        clips.setdefault(clip.assignment_id, []).append(clip)
    return RequestPage(
        request,
        {card.id: card for card in cards},
        boundary,
        actor.can_write(request.commune_id),
        clips,
        request_deliveries(session, request),
        request_timeline(session, request),
    )


def commune_of(session: Session, actor: Actor) -> tuple[AdminUnit, BaseGeometry | None]:
    """The officer's commune and its outline to draw, to centre the map of a new request."""
    commune = session.get(AdminUnit, actor.unit_id)
    return commune, _drawn(commune)


def _drawn(commune: AdminUnit) -> BaseGeometry | None:
    return simplified_for_zoom(to_shape(commune.boundary), DRAWN_ZOOM) if commune.boundary is not None else None
