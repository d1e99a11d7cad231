"""Finding the place of an incident: what an officer types or pastes into the new request's map.

Pasted coordinates (services.coordinates) are the place itself. Otherwise the text is looked for, within the
actor's reach, in current communes' names, sites' codes and names, recorders' and lenses' ids, and the owners'
addresses of the communes whose contacts the actor sees (admin, the commune's police). Names are compared
folded, so "tay son" finds "Tây Sơn" and the other way round; matches are ranked (whole, then prefix, then a
word, then anywhere) and bounded. A result never names an owner: an address result gives the address and the
point of the owner's first recorder, and showing an address is a contact read, audited as the others are.

Also the active lenses in reach with their fields of view, for the map to show what a point will catch.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from geoalchemy2.shape import to_shape
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from ..geo.sectors import LensView
from ..geo.spatial import Envelope
from ..models import AdminLevel, AdminUnit, Lens, LensStatus, Owner, Recorder, RecorderStatus, Site
from ..timezones import local_today
from .access import Actor
from .coordinates import QueryProblem, parse_coordinates
from .listing import readable
from .owners import owner_cards
from .vietnamese import fold

MIN_QUERY_CHARACTERS = 2
#: A map app's link to a place runs to several hundred characters.
MAX_QUERY_LENGTH = 2_000
DEFAULT_RESULTS, MAX_RESULTS = 8, 20
#: Ids are matched in SQL; this many candidates of each kind are ranked, the shortest ids first.
ID_CANDIDATES = 50
#: A commune has at most a few thousand lenses; the map never gets more than this.
MAX_MAP_LENSES = 10_000
TOO_SHORT = "Type at least %(count)s letters or digits."


class PlaceKind(enum.Enum):
    """In the order results of equal rank are listed."""

    COORDINATES = "coordinates"
    COMMUNE = "commune"
    SITE = "site"
    ADDRESS = "address"
    RECORDER = "recorder"
    LENS = "lens"


KIND_ORDER = {kind: order for order, kind in enumerate(PlaceKind)}


@dataclass(frozen=True)
class Place:
    kind: PlaceKind
    label: str  # what matched: a name, an address, an id, or the coordinates
    commune: str | None  # the name of the commune it lies in (a commune's own name for a commune)
    point: tuple[float, float] | None  # lon, lat, where the incident point goes; None for a commune
    bounds: Envelope | None  # a commune's lon/lat box, for the map to fit


@dataclass(frozen=True)
class ReachLenses:
    """What the lenses' wedges need, and nothing about whose they are."""

    lenses: list[LensView]
    truncated: bool  # more than MAX_MAP_LENSES are in reach: the first ones by id are drawn


#: Vietnamese tone marks and the circumflex, breve and horn, once NFD has split them off their letters.
_COMBINING_MARKS = re.compile("[\u0300-\u036f]")


def ranker(query: str) -> Callable[[str], int | None]:
    """How well folded text matches the folded `query`, best 0: the whole of it, its start, the start of a word,
    anywhere; then every word of the query at the start of one of its words. None: no match. Compiled once per
    query, as it is asked of every name and address in reach."""
    at_word_start = re.compile(rf"(?<![0-9a-z]){re.escape(query)}")
    words = [re.compile(rf"(?<![0-9a-z]){re.escape(word)}") for word in query.split()]

    def rank(folded: str) -> int | None:
        if folded == query:
            return 0
        if folded.startswith(query):
            return 1
        if query in folded:
            return 2 if at_word_start.search(folded) else 3
        if all(word.search(folded) for word in words):
            return 4
        return None

    return rank


@dataclass(frozen=True)
class _Hit:
    rank: int
    kind: PlaceKind
    label: str
    key: int  # the matched row's id
    commune_id: int | None
    point: tuple[float, float] | None = None

    def order(self) -> tuple:
        return self.rank, KIND_ORDER[self.kind], len(self.label), self.label, self.key


def search_places(session: Session, actor: Actor, q: str, limit: int = DEFAULT_RESULTS) -> list[Place]:
    """The places `q` names within the actor's reach, best first, at most `limit`; coordinates give one place.
    Refused (QueryProblem, on `q`) when it is too short to look for, or meant as coordinates but unusable."""
    coordinates = parse_coordinates(q)
    if coordinates is not None:
        lon, lat = coordinates
        return [Place(PlaceKind.COORDINATES, f"{lat:.6f}, {lon:.6f}", None, coordinates, None)]
    query = fold(q)
    if sum(character.isalnum() for character in query) < MIN_QUERY_CHARACTERS:
        raise QueryProblem(TOO_SHORT, count=MIN_QUERY_CHARACTERS)
    hits = [
        *_ranked(PlaceKind.COMMUNE, _current_communes(session, actor), query),
        *_ranked(PlaceKind.SITE, _sites(session, actor), query),
        *_ranked(PlaceKind.ADDRESS, _addresses(session, actor), query),
        *_ranked(PlaceKind.RECORDER, _ids(session, actor, Recorder, RecorderStatus.REMOVED, query), query),
        *_ranked(PlaceKind.LENS, _ids(session, actor, Lens, LensStatus.REMOVED, query), query),
    ]
    return _places(session, actor, sorted(hits, key=_Hit.order)[:limit])


def _ranked(kind: PlaceKind, rows: Iterable[tuple], query: str) -> list[_Hit]:
    """Hits of the rows (id, commune id, point or None, text...) that match, each at its best text's rank."""
    hits, rank_of = [], ranker(query)
    for key, commune_id, point, *texts in rows:
        ranks = [(rank, text) for text in texts if text and (rank := rank_of(fold(text))) is not None]
        if ranks:
            rank, text = min(ranks, key=lambda ranked: ranked[0])
            hits.append(_Hit(rank, kind, text, key, commune_id, point))
    return hits


def _lon_lat(column) -> tuple:
    return func.ST_X(column), func.ST_Y(column)


def _rows_with_point(session: Session, statement: Select) -> Iterable[tuple]:
    """Rows whose last two columns are lon and lat, with those as one point (None when the row has none)."""
    for *row, lon, lat in session.execute(statement):
        key, commune_id, *texts = row
        yield key, commune_id, (lon, lat) if lon is not None else None, *texts


def _current_communes(session: Session, actor: Actor) -> Iterable[tuple]:
    statement = select(AdminUnit.id, AdminUnit.id, AdminUnit.name).where(
        AdminUnit.level == AdminLevel.COMMUNE,
        AdminUnit.valid_on(local_today()),
        AdminUnit.boundary.is_not(None),
        readable(actor, AdminUnit.id),
    )
    return ((key, commune_id, None, name) for key, commune_id, name in session.execute(statement))


def _sites(session: Session, actor: Actor) -> Iterable[tuple]:
    """Sites in reach that have a place: their own point, else their first recorder's (found later)."""
    recorded = select(Recorder.site_id).where(Recorder.status != RecorderStatus.REMOVED)
    statement = select(Site.id, Site.commune_id, Site.code, Site.name, *_lon_lat(Site.point)).where(
        readable(actor, Site.commune_id), or_(Site.point.is_not(None), Site.id.in_(recorded))
    )
    return _rows_with_point(session, statement)


def _contact_reach(actor: Actor) -> frozenset[int] | None:
    """The communes whose owners' contacts the actor sees (Actor.sees_contacts); None: every commune."""
    if actor.readable_communes is None:
        return None if actor.sees_contacts(None) else frozenset()
    return frozenset(commune for commune in actor.readable_communes if actor.sees_contacts(commune))


def _addresses(session: Session, actor: Actor) -> Iterable[tuple]:
    """Owners' addresses the actor may see, of owners with a recorder to put the point on (found later)."""
    reach = _contact_reach(actor)
    if reach is not None and not reach:
        return ()
    statement = select(Owner.id, Owner.commune_id, Owner.address).where(
        Owner.address.is_not(None),
        Owner.id.in_(select(Recorder.owner_id).where(Recorder.status != RecorderStatus.REMOVED)),
    )
    if reach is not None:
        statement = statement.where(Owner.commune_id.in_(sorted(reach)))
    return ((key, commune_id, None, address) for key, commune_id, address in session.execute(statement))


def _ids(session: Session, actor: Actor, model, removed, query: str) -> Iterable[tuple]:
    """Recorders or lenses in reach, not removed, whose id holds the query (ids are plain ASCII, so SQL finds
    them); the shortest first, as a whole or a prefix match is among them."""
    pattern = "%" + re.sub(r"([\\%_])", r"\\\1", query) + "%"
    statement = (
        select(model.id, model.commune_id, model.external_id, *_lon_lat(model.point))
        .where(
            readable(actor, model.commune_id),
            model.status != removed,
            func.lower(model.external_id).like(pattern, escape="\\"),
        )
        .order_by(func.length(model.external_id), model.id)
        .limit(ID_CANDIDATES)
    )
    return _rows_with_point(session, statement)


def _places(session: Session, actor: Actor, hits: list[_Hit]) -> list[Place]:
    """The hits as places: communes with their bounds, points filled from recorders, addresses as disclosed."""
    commune_ids = {hit.commune_id for hit in hits if hit.commune_id is not None}
    communes = {unit.id: unit for unit in session.scalars(select(AdminUnit).where(AdminUnit.id.in_(commune_ids)))}
    owner_ids = [hit.key for hit in hits if hit.kind is PlaceKind.ADDRESS]
    pointless_sites = [hit.key for hit in hits if hit.kind is PlaceKind.SITE and hit.point is None]
    recorder_points = {
        PlaceKind.ADDRESS: _first_recorder_points(session, Recorder.owner_id, owner_ids),
        PlaceKind.SITE: _first_recorder_points(session, Recorder.site_id, pointless_sites),
    }
    owners = list(session.scalars(select(Owner).where(Owner.id.in_(owner_ids)).order_by(Owner.id)))
    addresses = {
        card.id: card.address
        for card in owner_cards(session, actor, owners, seen_on="place_search")
        if card.contacts_shown
    }
    places = []
    for hit in hits:
        commune = communes.get(hit.commune_id)
        name = commune.name if commune else None
        if hit.kind is PlaceKind.COMMUNE:
            places.append(Place(hit.kind, hit.label, name, None, to_shape(commune.boundary).bounds))
        elif hit.kind is PlaceKind.ADDRESS:
            if hit.key in addresses:
                places.append(Place(hit.kind, addresses[hit.key], name, recorder_points[hit.kind][hit.key], None))
        else:
            places.append(Place(hit.kind, hit.label, name, hit.point or recorder_points[hit.kind][hit.key], None))
    return places


def _first_recorder_points(session: Session, column, ids: list[int]) -> dict[int, tuple[float, float]]:
    """The point of the first recorder (by id, not removed) of each owner or site in `ids`."""
    if not ids:
        return {}
    first = (
        select(column.label("key"), func.min(Recorder.id).label("recorder_id"))
        .where(column.in_(ids), Recorder.status != RecorderStatus.REMOVED)
        .group_by(column)
        .subquery()
    )
    rows = session.execute(
        select(first.c.key, *_lon_lat(Recorder.point)).join(Recorder, Recorder.id == first.c.recorder_id)
    )
    return {key: (lon, lat) for key, lon, lat in rows}


def reach_lenses(session: Session, actor: Actor) -> ReachLenses:
    """The active lenses on active recorders in the actor's reach, the ones routing would consider."""
    rows = session.execute(
        select(*_lon_lat(Lens.point), Lens.bearing_deg, Lens.fov_deg, Lens.range_m)
        .join(Recorder, Lens.recorder_id == Recorder.id)
        .where(
            readable(actor, Lens.commune_id),
            Lens.status == LensStatus.ACTIVE,
            Recorder.status == RecorderStatus.ACTIVE,
        )
        .order_by(Lens.id)
        .limit(MAX_MAP_LENSES + 1)
    ).all()
    return ReachLenses([LensView(*row) for row in rows[:MAX_MAP_LENSES]], len(rows) > MAX_MAP_LENSES)
