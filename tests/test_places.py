"""Finding the place of a new request: folding and ranking, the coordinate forms officers paste, the search
within the actor's reach (services.places), and the new request's JSON routes."""

from __future__ import annotations

import unicodedata

import pytest
from geoalchemy2.shape import from_shape
from owner_support import police_actor
from registry_support import COMMUNE_A_BOX
from shapely import Point
from sqlalchemy import func, select

from camera_registry.models import AuditEvent, Lens, LensStatus, Owner, OwnerKind, Recorder, RecorderStatus, Site
from camera_registry.services import coordinates, places
from camera_registry.services.access import SYSTEM
from camera_registry.services.coordinates import QueryProblem, parse_coordinates
from camera_registry.services.places import PlaceKind, ranker, reach_lenses, search_places
from camera_registry.services.vietnamese import fold

# --------------------------------------------------------------------------- folding and ranking


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Tây Sơn", "tay son"),
        ("tay son", "tay son"),
        ("  TÂY   SƠN ", "tay son"),
        ("Phường Đống Đa", "phuong dong da"),
        ("Nguyễn Chí Thanh", "nguyen chi thanh"),
        (unicodedata.normalize("NFD", "Hàng Bài"), "hang bai"),
        ("Số 65 Phố Tây Sơn, Phường Đống Đa", "so 65 pho tay son, phuong dong da"),
    ],
)
def test_folding_drops_accents_tone_marks_and_case(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("text", "query", "rank"),
    [
        ("Tây Sơn", "tay son", 0),
        ("Tây Sơn Thượng", "tay son", 1),
        ("Số 65 Phố Tây Sơn", "tay son", 2),
        ("Số 65 Phố Tây Sơn", "65", 2),
        ("Quốc Tử Giám", "tu giam", 2),
        ("DEMO-R0012", "r00", 2),
        ("DEMO-R0012", "0012", 3),
        ("Phố Tây Sơn, Số 65", "pho 65", 4),
        ("Phố Hàng Bài", "tay son", None),
        ("Phố Tây Sơn", "son tay x", None),
    ],
)
def test_matches_rank_whole_then_prefix_then_word_then_anywhere(text, query, rank):
    assert ranker(fold(query))(fold(text)) == rank


def test_an_accented_query_finds_unaccented_text():
    assert ranker(fold("Tây Sơn"))(fold("so 12 pho tay son")) == 2


# --------------------------------------------------------------------------- coordinates as they are pasted

LON, LAT = 105.8262, 21.0132
DMS = (105 + 49 / 60 + 34.3 / 3600, 21 + 0 / 60 + 47.5 / 3600)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("21.0132, 105.8262", (LON, LAT)),
        ("21.0132,105.8262", (LON, LAT)),
        ("21.0132 105.8262", (LON, LAT)),
        ("21.0132; 105.8262", (LON, LAT)),
        ("105.8262, 21.0132", (LON, LAT)),  # lon first: only longitude is that large in Vietnam
        ("21.0132°N 105.8262°E", (LON, LAT)),
        ("21°00'47.5\"N 105°49'34.3\"E", DMS),
        ("21° 00' 47.5\" N, 105° 49' 34.3\" E", DMS),
        ("21°00′47.5″N 105°49′34.3″E", DMS),
        ("21°00'47.5''N 105°49'34.3''E", DMS),
        ("N 21°00'47.5\" E 105°49'34.3\"", DMS),
        ("105°49'34.3\"E 21°00'47.5\"N", DMS),
        ("21°00.792'N 105°49.572'E", (LON, LAT)),
        ("https://www.google.com/maps/@21.0132,105.8262,17z", (LON, LAT)),
        ("https://maps.google.com/?q=21.0132,105.8262", (LON, LAT)),
        ("https://www.google.com/maps/search/?api=1&query=21.0132%2C105.8262", (LON, LAT)),
        (
            "https://www.google.com/maps/place/21%C2%B000'47.5%22N+105%C2%B049'34.3%22E/@21.0100,105.8200,17z"
            "/data=!3m1!4b1!4m4!3m3!8m2!3d21.0132!4d105.8262",
            (LON, LAT),
        ),
        ("https://www.openstreetmap.org/#map=18/21.0132/105.8262", (LON, LAT)),
        ("https://www.openstreetmap.org/?mlat=21.0132&mlon=105.8262#map=16/21.0000/105.8000", (LON, LAT)),
        ("geo:21.0132,105.8262", (LON, LAT)),
        ("geo:21.0132,105.8262;u=35", (LON, LAT)),
        ("geo:0,0?q=21.0132,105.8262(Nhà văn hoá)", (LON, LAT)),
        ("https://maps.apple.com/?ll=21.0132,105.8262&q=Dropped%20Pin", (LON, LAT)),
    ],
)
def test_coordinates_in_the_usual_forms(text, expected):
    lon, lat = parse_coordinates(text)
    assert lon == pytest.approx(expected[0], abs=1e-7) and lat == pytest.approx(expected[1], abs=1e-7)


@pytest.mark.parametrize("text", ["tay son", "Số 12 Tây Sơn", "12", "12 34", "Nguyễn Trãi", "DEMO-R0012", "ngõ 5"])
def test_text_that_is_not_coordinates_is_searched_for(text):
    assert parse_coordinates(text) is None


@pytest.mark.parametrize(
    ("text", "template", "shown"),
    [
        ("95.5, 105.8", coordinates.LATITUDE_RANGE, "Latitude 95.5"),
        ("21.5, 200.5", coordinates.LONGITUDE_RANGE, "Longitude 200.5"),
        ("48.8566, 2.3522", coordinates.OUTSIDE_VIETNAM, "48.8566, 2.3522 (latitude, longitude) is outside Vietnam"),
        ("21°61'N 105°49'E", coordinates.SIXTY, "below 60 (61)"),
        ("21.01N 105.82N", coordinates.HEMISPHERES, "one latitude (N or S)"),
        ("21,0132, 105,8262", coordinates.UNREADABLE, "Could not read"),
        ("21.5°00'N 105°E", coordinates.UNREADABLE, "Could not read"),
        ("https://maps.app.goo.gl/AbCdEf", coordinates.LINK_WITHOUT_COORDINATES, "no coordinates"),
    ],
)
def test_coordinates_that_cannot_be_used_say_why(text, template, shown):
    with pytest.raises(QueryProblem) as refused:
        parse_coordinates(text)
    assert refused.value.template == template
    assert shown in refused.value.errors["q"][0]


# --------------------------------------------------------------------------- the search, within reach

A_POINT = (105.82, 21.02)  # owner a's recorder, from the world fixture


@pytest.fixture()
def addresses(session, world):
    """Both owners on a street named with accents in A and without them in B; an owner of A with no recorder."""
    session.get(Owner, world.objects["a"]["owner"]).address = "Số 12 Phố Tây Sơn, Xã A"
    session.get(Owner, world.objects["b"]["owner"]).address = "so 5 pho tay son, xa b"
    session.add(
        Owner(
            external_id="owner-a-none",
            kind=OwnerKind.HOUSEHOLD,
            name="Nobody",
            commune=world.commune_a,
            address="Tây Sơn",
        )
    )
    session.commit()
    return world


def _found(session, username, q, **kwargs):
    return search_places(session, police_actor(session, username), q, **kwargs)


def _contact_reads(session):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == "owner.contacts_read")).all()


def test_commune_police_find_their_communes_addresses_without_accents(session, addresses):
    [place] = [p for p in _found(session, "police-a", "tay son") if p.kind is PlaceKind.ADDRESS]
    assert place.label == "Số 12 Phố Tây Sơn, Xã A"
    assert place.point == pytest.approx(A_POINT) and place.commune == "Xã A" and place.bounds is None
    [read] = _contact_reads(session)
    assert read.details == {"owner_ids": [addresses.objects["a"]["owner"]], "seen_on": "place_search"}


def test_an_accented_query_finds_an_address_stored_without_accents(session, addresses):
    found = [p.label for p in _found(session, "police-b", "Tây Sơn") if p.kind is PlaceKind.ADDRESS]
    assert found == ["so 5 pho tay son, xa b"]


def test_police_of_one_commune_never_find_another_communes_addresses_or_cameras(session, addresses):
    found = [*_found(session, "police-b", "xa"), *_found(session, "police-b", "tay son")]
    assert found and not [p for p in found if p.commune == "Xã A"]
    assert _found(session, "police-b", "rec-a") == [] and _found(session, "police-b", "Xã A") == []


def test_staff_find_sites_and_cameras_of_their_units_but_no_addresses(session, addresses):
    found = _found(session, "district-staff", "tay son")
    assert found == []
    assert {p.kind for p in _found(session, "district-staff", "site-a")} == {PlaceKind.SITE}
    assert _contact_reads(session) == []


def test_admin_finds_the_addresses_of_every_commune(session, addresses):
    found = _found(session, "admin", "tay son")
    assert sorted(p.commune for p in found if p.kind is PlaceKind.ADDRESS) == ["Xã A", "Xã B"]


def test_a_result_never_names_the_owner_or_gives_contacts(session, addresses):
    shown = repr([*_found(session, "police-a", "xa a"), *_found(session, "police-a", "tay son")])
    assert "Owner a" not in shown and "0912345678" not in shown and "a@example.vn" not in shown


def test_communes_give_their_bounds(session, addresses):
    place, *others = _found(session, "police-a", "xa a")  # the address "..., Xã A" too, after the whole match
    assert [p.kind for p in others] == [PlaceKind.ADDRESS]
    assert place.kind is PlaceKind.COMMUNE and place.point is None
    assert place.bounds == pytest.approx(COMMUNE_A_BOX)


def test_sites_recorders_and_lenses_are_found_by_code_name_and_id(session, addresses):
    by_kind = {p.kind: p for p in _found(session, "police-a", "site-a")}
    assert by_kind[PlaceKind.SITE].label == "site-a" and by_kind[PlaceKind.SITE].point == pytest.approx(A_POINT)
    [recorder] = _found(session, "police-a", "REC-A")
    assert (recorder.kind, recorder.label, recorder.point) == (PlaceKind.RECORDER, "rec-a", pytest.approx(A_POINT))
    [lens] = _found(session, "police-a", "lens-a")
    assert lens.kind is PlaceKind.LENS and lens.point == pytest.approx((A_POINT[0] + 0.0001, A_POINT[1]))


def test_whole_and_prefix_matches_come_first_and_results_are_bounded(session, addresses):
    owner = session.get(Owner, addresses.objects["a"]["owner"])
    for n in range(12):
        session.add(
            Recorder(
                external_id=f"x-rec-a-{n}",
                owner=owner,
                retention_days=14,
                point=from_shape(Point(105.821, 21.021), srid=4326),
                commune_id=addresses.commune_a.id,
            )
        )
    session.commit()
    found = _found(session, "police-a", "rec-a", limit=5)
    assert [p.label for p in found[:1]] == ["rec-a"] and len(found) == 5
    assert len(_found(session, "police-a", "rec-a", limit=places.MAX_RESULTS)) == 13


def test_a_site_or_camera_keeps_its_own_label_beside_addresses(session, addresses):
    """Ids of different kinds may be equal: an owner's address never takes the place of a site's name."""
    same_id = max(session.scalar(select(func.max(Site.id))), session.scalar(select(func.max(Owner.id)))) + 1000
    site = Site(id=same_id, code="site-x", name="Site x", commune=addresses.commune_a)
    owner = Owner(
        id=same_id,
        external_id="owner-x",
        kind=OwnerKind.HOUSEHOLD,
        name="X",
        commune=addresses.commune_a,
        address="Site x, Phố Tây Sơn",
    )
    point = from_shape(Point(105.822, 21.022), srid=4326)
    recorder = Recorder(
        external_id="rec-x", owner=owner, site=site, retention_days=14, point=point, commune_id=addresses.commune_a.id
    )
    session.add_all([site, owner, recorder])
    session.commit()
    found = {(p.kind, p.label) for p in _found(session, "police-a", "site x")}
    assert found == {(PlaceKind.SITE, "Site x"), (PlaceKind.ADDRESS, "Site x, Phố Tây Sơn")}


def test_removed_recorders_are_not_found(session, addresses):
    session.get(Recorder, addresses.objects["a"]["recorder"]).status = RecorderStatus.REMOVED
    session.commit()
    assert [p for p in _found(session, "police-a", "rec-a") if p.kind is PlaceKind.RECORDER] == []


def test_coordinates_are_the_place_itself(session, world):
    [place] = search_places(session, SYSTEM, "21°00'47.5\"N 105°49'34.3\"E")
    assert place.kind is PlaceKind.COORDINATES and place.point == pytest.approx(DMS)


def test_a_query_too_short_to_look_for_is_refused(session, world):
    with pytest.raises(QueryProblem) as refused:
        search_places(session, SYSTEM, " a ")
    assert list(refused.value.errors) == ["q"]


def test_the_map_gets_the_active_lenses_of_the_readers_communes(session, world):
    offline = Lens(
        external_id="lens-a-offline",
        recorder_id=world.objects["a"]["recorder"],
        commune_id=world.commune_a.id,
        point=from_shape(Point(105.8205, 21.02), srid=4326),
        status=LensStatus.OFFLINE,
    )
    session.add(offline)
    session.commit()
    found = reach_lenses(session, police_actor(session, "police-a"))
    assert not found.truncated
    assert [(lens.lon, lens.lat, lens.bearing_deg) for lens in found.lenses] == [
        (pytest.approx(105.8201), pytest.approx(21.02), 90.0)
    ]


# --------------------------------------------------------------------------- the new request's JSON routes


def test_the_search_answers_places_as_json(client, addresses):
    response = client.get("/requests/new/places?q=tay+son", headers=addresses.headers["police_a"])
    assert response.status_code == 200
    [place] = [p for p in response.json["places"] if p["kind"] == "address"]
    assert place == {
        "kind": "address",
        "what": "Địa chỉ chủ camera",
        "label": "Số 12 Phố Tây Sơn, Xã A",
        "commune": "Xã A",
        "point": [pytest.approx(A_POINT[0]), pytest.approx(A_POINT[1])],
        "bounds": None,
    }
    assert "Owner a" not in response.get_data(as_text=True)


def test_the_search_audits_the_addresses_it_shows(client, addresses, session):
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    client.get("/requests/new/places?q=tay+son", headers=addresses.headers["police_a"])
    assert [read.details["owner_ids"] for read in _contact_reads(session)] == [[addresses.objects["a"]["owner"]]]
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before + 1


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("", "Độ dài phải từ 1 đến 2000."),  # marshmallow's own reason, said in the page's language
        ("&lang=en", "Length must be between 1 and 2000."),
        ("q=95.5,+105.8", "Vĩ độ 95.5 nằm ngoài khoảng -90 đến 90."),
        ("q=95.5,+105.8&lang=en", "Latitude 95.5 is outside -90 to 90."),
        ("q=48.8566,2.3522", "48.8566, 2.3522 (vĩ độ, kinh độ) nằm ngoài lãnh thổ Việt Nam."),
        ("q=x", "Hãy nhập ít nhất 2 chữ hoặc số."),
        ("q=tay+son&limit=99", None),
    ],
)
def test_text_the_search_cannot_use_is_a_422_naming_q(client, world, query, reason):
    if query in ("", "&lang=en"):
        query = f"q={query}"
    response = client.get(f"/requests/new/places?{query}", headers=world.headers["police_a"])
    assert response.status_code == 422
    field = "limit" if "limit" in query else "q"
    assert list(response.json["errors"]) == [field]
    if reason:
        assert response.json["errors"][field] == [reason]


def test_a_map_apps_long_link_is_read(client, world):
    link = (
        "https://www.google.com/maps/place/S%E1%BB%91+12+Ph%E1%BB%91+T%C3%A2y+S%C6%A1n,+%C4%90%E1%BB%91ng+%C4%90a,"
        "+H%C3%A0+N%E1%BB%99i/@21.0100,105.8200,17z/data=" + "!3m1!4b1!4m6!3m5" * 20 + "!8m2!3d21.0132!4d105.8262"
    )
    assert len(link) > 400
    response = client.get("/requests/new/places", query_string={"q": link}, headers=world.headers["police_a"])
    assert response.status_code == 200
    [place] = response.json["places"]
    assert (place["kind"], place["point"]) == ("coordinates", [105.8262, 21.0132])


def test_only_commune_police_use_the_new_requests_routes(client, world):
    for path in ("/requests/new/places?q=site", "/requests/new/lenses"):
        assert client.get(path, headers=world.headers["district_staff"]).status_code == 403
        assert client.get(path).status_code == 302  # to the login page


def test_the_lenses_route_gives_the_wedges_of_the_officers_commune(client, world):
    response = client.get("/requests/new/lenses", headers=world.headers["police_a"])
    assert response.status_code == 200
    assert response.json == {
        "lenses": [[pytest.approx(105.8201), pytest.approx(21.02), 90.0, 90.0, 30.0]],
        "truncated": False,
    }


@pytest.mark.parametrize(("lang", "label"), [("vi", "Tìm địa điểm"), ("en", "Find the place")])
def test_the_new_request_page_has_the_search_box_in_the_readers_language(client, world, lang, label):
    page = client.get(f"/requests/new?lang={lang}", headers=world.headers["police_a"]).get_data(as_text=True)
    assert f'<label for="place-search">{label}</label>' in page
    assert 'data-lenses="/requests/new/lenses"' in page
