"""OGC API - Features at /ogc: the documents, paging, errors, access rules, and owslib reading it live."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from camera_registry.models import AdminUnit, Lens
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
GEOJSON_CLASS = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
COLLECTIONS = {"lenses", "recorders", "sites", "admin-units"}


def get(client, world, path, role="admin", **headers):
    return client.get(path, headers={**world.headers[role], **headers})


def links(document) -> dict[str, dict]:
    return {link["rel"]: link for link in document["links"]}


def test_landing_page_links_the_definition_conformance_and_data(client, world):
    response = get(client, world, "/ogc")
    assert response.status_code == 200 and response.content_type == "application/json"
    found = links(response.get_json())
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(found)
    assert found["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    spec = client.get(found["service-desc"]["href"]).get_json()
    assert "/ogc/collections/{collection_id}/items" in spec["paths"]
    assert found["data"]["href"].endswith("/ogc/collections")
    assert get(client, world, "/ogc/").get_json() == response.get_json()


def test_conformance_declares_core_and_geojson(client, world):
    assert set(get(client, world, "/ogc/conformance").get_json()["conformsTo"]) == {CORE, GEOJSON_CLASS}


def test_collections_describe_items_links_and_extent(client, world):
    document = get(client, world, "/ogc/collections").get_json()
    assert {c["id"] for c in document["collections"]} == COLLECTIONS
    for described in document["collections"]:
        assert described["itemType"] == "feature" and described["extent"]["spatial"]["crs"] == CRS84
        assert links(described)["items"]["type"] == "application/geo+json"
        assert get(client, world, f"/ogc/collections/{described['id']}").get_json() == described


def test_items_are_geojson_with_counts_and_crs(client, world):
    response = get(client, world, "/ogc/collections/lenses/items")
    assert response.status_code == 200 and response.content_type == "application/geo+json"
    assert response.headers["Content-Crs"] == f"<{CRS84}>"
    page = json.loads(response.data)
    assert page["type"] == "FeatureCollection" and page["numberMatched"] == page["numberReturned"] == 2
    assert page["timeStamp"]
    lens_a = next(f for f in page["features"] if f["id"] == world.objects["a"]["lens"])
    assert lens_a["geometry"] == {"type": "Point", "coordinates": [105.8201, 21.02]}
    assert lens_a["properties"] == {
        "id": lens_a["id"],
        "external_id": "lens-a",
        "recorder_id": world.objects["a"]["recorder"],
        "commune_code": "A",
        "status": "active",
        "kind": "fixed",
        "bearing_deg": 90.0,
        "fov_deg": 90.0,
        "range_m": 30.0,
        "height_m": None,
        "shared": True,
    }


def test_paging_follows_next_and_prev_links(client, world):
    first = json.loads(get(client, world, "/ogc/collections/recorders/items?limit=1").data)
    assert first["numberReturned"] == 1 and first["numberMatched"] == 2
    assert "prev" not in links(first)
    second = json.loads(get(client, world, links(first)["next"]["href"]).data)
    assert second["numberReturned"] == 1 and "next" not in links(second)
    assert second["features"][0]["id"] != first["features"][0]["id"]
    back = json.loads(get(client, world, links(second)["prev"]["href"]).data)
    assert back["features"] == first["features"]


def test_bbox_limits_items_and_keeps_it_in_links(client, world):
    page = json.loads(
        get(client, world, f"/ogc/collections/lenses/items?bbox=105.85,21.0,105.9,21.05&limit=1&bbox-crs={CRS84}").data
    )
    assert [f["properties"]["external_id"] for f in page["features"]] == ["lens-b"]
    assert "bbox=105.85%2C21%2C105.9%2C21.05" in links(page)["self"]["href"]
    communes = json.loads(get(client, world, "/ogc/collections/admin-units/items?bbox=105.86,21.01,105.88,21.03").data)
    assert [f["id"] for f in communes["features"]] == ["B"]


def test_a_limit_above_the_maximum_is_the_maximum(client, world):
    page = json.loads(get(client, world, "/ogc/collections/lenses/items?limit=5000").data)
    assert "limit=1000" in links(page)["self"]["href"]


@pytest.mark.parametrize(
    "query, words",
    [
        ("bbox=105.9,21.0,105.8,21.05", "bbox"),
        ("bbox=1,2,3", "bbox"),
        ("bbox=105,21,106,95", "bbox"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857", "bbox-crs"),
        ("colour=red", "colour"),
        ("f=xml", "f"),
    ],
)
def test_bad_parameters_are_400_exceptions(client, world, query, words):
    response = get(client, world, f"/ogc/collections/lenses/items?{query}")
    assert response.status_code == 400
    body = response.get_json()
    assert body["code"] == "InvalidParameterValue" and words in body["description"]


def test_one_feature_and_its_links(client, world):
    lens_id = world.objects["a"]["lens"]
    response = get(client, world, f"/ogc/collections/lenses/items/{lens_id}")
    assert response.status_code == 200 and response.content_type == "application/geo+json"
    feature = json.loads(response.data)
    assert feature["type"] == "Feature" and feature["id"] == lens_id
    assert links(feature)["self"]["href"].endswith(f"/ogc/collections/lenses/items/{lens_id}")
    assert links(feature)["collection"]["href"].endswith("/ogc/collections/lenses")


def test_communes_carry_their_figures(client, world):
    commune = json.loads(get(client, world, "/ogc/collections/admin-units/items/A").data)
    assert commune["geometry"]["type"] == "MultiPolygon"
    assert commune["properties"] == {
        "code": "A",
        "name": "Xã A",
        "level": "commune",
        "parent_code": "D",
        "valid_from": None,
        "lenses_active": 1,
        "lenses_offline": 0,
        "shared_active_lenses": 1,
        "sharing_rate": 1.0,
        "recorders": 1,
        "owners": 1,
        "sites": 2,
    }


@pytest.mark.parametrize(
    "path",
    [
        "/ogc/collections/cameras",
        "/ogc/collections/cameras/items",
        "/ogc/collections/lenses/items/999999",
        "/ogc/collections/lenses/items/lens-a",
        "/ogc/collections/admin-units/items/P",
    ],
)
def test_unknown_collections_and_features_are_404_exceptions(client, world, path):
    response = get(client, world, path)
    assert response.status_code == 404 and response.content_type == "application/json"
    assert response.get_json()["code"] == "NotFound"


def test_only_json_is_offered(client, world):
    response = get(client, world, "/ogc/collections", Accept="text/html")
    assert response.status_code == 406 and response.get_json()["code"] == "NotAcceptable"
    plain = get(client, world, "/ogc/collections/lenses/items", Accept="application/json")
    assert plain.status_code == 200 and plain.content_type == "application/json"


@pytest.mark.parametrize("path", ["/ogc", "/ogc/conformance", "/ogc/collections", "/ogc/collections/lenses/items"])
def test_anonymous_callers_are_refused(client, world, path):
    response = client.get(path)
    assert response.status_code == 401 and response.get_json()["code"] == "NotAuthenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_communes_police_see_none_of_commune_a(client, world):
    for collection in COLLECTIONS:
        page = json.loads(get(client, world, f"/ogc/collections/{collection}/items", "police_b").data)
        assert {
            f["properties"]["commune_code"] if collection != "admin-units" else f["id"] for f in page["features"]
        } == {"B"}, collection
    for collection, key in (("lenses", "lens"), ("recorders", "recorder"), ("sites", "site")):
        feature_id = world.objects["a"][key]
        assert get(client, world, f"/ogc/collections/{collection}/items/{feature_id}", "police_b").status_code == 404
    assert get(client, world, "/ogc/collections/admin-units/items/A", "police_b").status_code == 404
    district = json.loads(get(client, world, "/ogc/collections/lenses/items", "district_staff").data)
    assert [f["properties"]["commune_code"] for f in district["features"]] == ["A"]


def test_no_owner_personal_data_in_any_collection(client, world):
    for collection in COLLECTIONS:
        body = get(client, world, f"/ogc/collections/{collection}/items").get_data(as_text=True)
        for personal in ("0912345678", "@example.vn", "Owner a", "Road a"):
            assert personal not in body, (collection, personal)


def test_owslib_reads_the_collections(live_server, monkeypatch):
    from owslib import ogcapi
    from owslib.ogcapi.features import Features

    from camera_registry import create_app

    # owslib adds our headers to its module-wide defaults; keep them out of later tests.
    monkeypatch.setattr(ogcapi, "REQUEST_HEADERS", dict(ogcapi.REQUEST_HEADERS))
    app = create_app({"DATABASE_URL": live_server.database_url, "SECRET_KEY": "owslib"})
    with app.extensions["session_factory"]() as session:
        user = accounts.get_user(session, live_server.username)
        _, secret = accounts.create_token(session, SYSTEM, user, "owslib")
        commune = session.scalar(select(AdminUnit).where(AdminUnit.code == "00235"))
        lenses_in_commune = session.scalar(select(func.count()).select_from(Lens).where(Lens.commune_id == commune.id))
        session.commit()
    app.extensions["engine"].dispose()

    service = Features(f"{live_server.url}/ogc", headers={"Authorization": f"Bearer {secret}"})
    assert CORE in service.conformance()["conformsTo"]
    assert set(service.feature_collections()) == COLLECTIONS
    assert service.collection("lenses")["itemType"] == "feature"
    page = service.collection_items("lenses", limit=10)
    assert page["numberMatched"] == lenses_in_commune > 10 and len(page["features"]) == 10
    assert {f["properties"]["commune_code"] for f in page["features"]} == {"00235"}
    first = page["features"][0]
    assert service.collection_item("lenses", str(first["id"]))["properties"] == first["properties"]
    lon, lat = first["geometry"]["coordinates"]
    boxed = service.collection_items("lenses", bbox=[lon - 1e-6, lat - 1e-6, lon + 1e-6, lat + 1e-6])
    assert first["id"] in {f["id"] for f in boxed["features"]}
    communes = service.collection_items("admin-units")
    assert [f["id"] for f in communes["features"]] == ["00235"]
    assert communes["features"][0]["properties"]["lenses_active"] > 0
