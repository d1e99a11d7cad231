"""The API contract: schemathesis against /api/openapi.json, as the admin and as a commune's police.

Every operation of the OpenAPI document (the REST API, /ogc and /tiles) is called with the cases
schemathesis generates from it (examples, coverage of the bounds, fuzzing; valid and invalid
input), on the bundled sample, on the backend of this run. Each case is sent once with each role's
Bearer token. The response must not be a server error and must be what the document says:
status code, content type, headers (X-Pagination checked as the JSON object it is documented as)
and body.

Bounded so `make test` stays quick: MAX_EXAMPLES fuzzed cases per operation (the coverage phase
adds its own fixed set), a fixed seed (derandomize), about a minute per backend on two cores.
Every request runs in a transaction rolled back after it, so each case meets the same registry
(the admin deactivating itself or revoking its own token does not end the run); for that reason
schemathesis' stateful phase, which chains calls through stored records, is not run.

Nothing is left out: the import upload takes the generated multipart bodies like any other.
The document is read from an app that never opens its database (it is built at import time, when
pytest collects the operations); `test_the_tested_document_is_the_served_one` checks it is the one
the app under test serves.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager

import pytest
import schemathesis
from database_support import app_of_its_own
from flask_smorest.pagination import PaginationMetadataSchema
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import camera_registry
from camera_registry import migrate
from camera_registry.models import Role
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM
from camera_registry.services.sample import load_dataset

MAX_EXAMPLES = 25
ROLES = {"admin": (Role.ADMIN, None), "police": (Role.COMMUNE_POLICE, "00235")}  # Phường Đống Đa's police


def _served_document(app) -> dict:
    response = app.test_client().get("/api/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _document() -> dict:
    instance = tempfile.mkdtemp(prefix="cr_test_openapi_")
    try:
        app = camera_registry.create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": instance, "SECRET_KEY": "x"})
        return _served_document(app)
    finally:
        shutil.rmtree(instance, ignore_errors=True)


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)
schema.config.generation.update(max_examples=MAX_EXAMPLES, database="none")


@pytest.fixture(scope="module")
def contract(database_server):
    """The app on its own database with the bundled sample, and a Bearer token per role."""
    with app_of_its_own(database_server, "contract") as app:
        migrate.upgrade(app.extensions["engine"])
        tokens = {}
        with app.extensions["session_factory"]() as session:
            load_dataset(session)
            for name, (role, unit) in ROLES.items():
                user = accounts.create_user(
                    session, SYSTEM, f"contract.{name}", "Contract-Test-Passphrase-7", role, unit
                )
                tokens[name] = accounts.create_token(session, SYSTEM, user, "contract")[1]
            session.commit()
        yield app, tokens


@contextmanager
def _rolled_back(app):
    """The app's sessions bound to one transaction, rolled back afterwards (as tests/conftest.py's `app`)."""
    factory = app.extensions["session_factory"]
    saved = dict(factory.kw)
    connection = app.extensions["engine"].connect()
    transaction = connection.begin()
    factory.configure(bind=connection, join_transaction_mode="create_savepoint")
    try:
        yield
    finally:
        factory.kw.clear()
        factory.kw.update(saved)
        transaction.rollback()
        connection.close()


def pagination_header_conformance(ctx, response, case):
    """X-Pagination, which schemathesis does not read (its documentation is `content`, a JSON object)."""
    value = response.headers.get("x-pagination")
    if value is None:
        return None
    documented = case.operation.definition.raw["responses"].get(str(response.status_code), {}).get("headers", {})
    assert "X-Pagination" in documented, f"{case.operation.label} sends X-Pagination without documenting it"
    PaginationMetadataSchema().load(json.loads(value[0] if isinstance(value, list) else value))
    return None


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    pagination_header_conformance,
]


@schema.parametrize()
@settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_every_operation_keeps_the_contract(case, contract):
    app, tokens = contract
    for role, token in tokens.items():
        with _rolled_back(app):
            response = case.call(app=app, headers={"Authorization": f"Bearer {token}"})
            assert response.status_code < 500, f"as {role}: {response.status_code} {response.text[:500]}"
            case.validate_response(response, checks=CHECKS)


def test_the_tested_document_is_the_served_one(contract):
    app, _ = contract
    assert _served_document(app) == DOCUMENT


# --------------------------------------------------------------------------- what the API refuses, one by one

TOO_BIG = (2**31, 2**63, 2**80)


@pytest.mark.parametrize("number", TOO_BIG)
@pytest.mark.parametrize(
    "path",
    ["/api/v1/lenses/{}", "/api/v1/footage-requests/{}", "/api/v1/users/me/tokens/{}", "/api/v1/commitments/{}/revoke"],
)
def test_an_id_no_database_holds_is_not_found(client, world, path, number):
    method = client.delete if "tokens" in path else client.post if path.endswith("revoke") else client.get
    response = method(path.format(number), json={}, headers=world.headers["admin"])
    assert response.status_code == 404 and response.get_json()["code"] == "not_found"


@pytest.mark.parametrize("number", TOO_BIG)
@pytest.mark.parametrize("path", ["/requests/{}", "/requests/{}/clips/1", "/requests/{}/evidence.zip"])
def test_a_page_for_an_id_no_database_holds_is_not_found(client, world, path, number):
    """The web pages' routes are registered before the API's: the bounded converter must cover them too."""
    assert client.get(path.format(number), headers=world.headers["police_a"]).status_code == 404


@pytest.mark.parametrize(
    "path, field",
    [
        ("/api/v1/lenses?recorder_id={}", "recorder_id"),
        ("/api/v1/commitments?owner_id={}", "owner_id"),
        ("/api/v1/sites?page={}", "page"),
        ("/api/v1/sites/{{site}}?version={}", "version"),
        ("/ogc/collections/lenses/items?offset={}", None),
    ],
)
def test_an_integer_no_database_holds_is_refused_in_a_query(client, world, path, field):
    for number in TOO_BIG:
        url = path.format(number).format(site=world.objects["a"]["spare_site"])
        response = (client.delete if "version" in path else client.get)(url, headers=world.headers["admin"])
        if field is None:  # OGC API - Features: 400 with an exception document
            assert response.status_code == 400 and response.get_json()["code"] == "InvalidParameterValue"
        else:
            assert response.status_code == 422 and field in response.get_json()["errors"], response.get_json()


def test_an_integer_no_database_holds_is_refused_in_a_body(client, world):
    body = {
        "owner_id": 2**63,
        "recorder_ids": [world.objects["a"]["recorder"], 2**40],
        "valid_until": None,
        "channel": "paper",
        "text_version": "2024.1",
    }
    response = client.post("/api/v1/commitments", json=body, headers=world.headers["admin"])
    assert response.status_code == 422
    assert {"owner_id", "recorder_ids.1"} <= set(response.get_json()["errors"]), response.get_json()


@pytest.mark.parametrize("text", ["Đống\x00Đa", "\ud800", "a\udfffb"])
def test_text_no_database_stores_is_refused_naming_the_field(client, world, session, text):
    created = client.post(
        "/api/v1/sites", json={"code": "S-nul", "name": text, "commune_code": "A"}, headers=world.headers["police_a"]
    )
    assert created.status_code == 422 and list(created.get_json()["errors"]) == ["name"], created.get_json()
    changed = client.patch(
        f"/api/v1/owners/{world.objects['a']['owner']}", json={"address": text}, headers=world.headers["police_a"]
    )
    assert changed.status_code == 422 and list(changed.get_json()["errors"]) == ["address"]
    if "\x00" in text:  # a query string cannot carry a lone surrogate; NUL it can
        listed = client.get("/api/v1/sites", query_string={"commune_code": text}, headers=world.headers["admin"])
        assert listed.status_code == 422 and "commune_code" in listed.get_json()["errors"]


def test_a_path_segment_with_nul_is_not_found(client, world):
    for path in ("/api/v1/admin-units/A%00", "/api/v1/users/ad%00min/deactivate", "/ogc/collections/lenses%00"):
        response = (
            client.get(path, headers=world.headers["admin"])
            if "deactivate" not in path
            else client.post(path, headers=world.headers["admin"])
        )
        assert response.status_code == 404 and response.is_json, path


@pytest.mark.parametrize("query", [{"from": "0001-01-01"}, {"to": "9999-12-31"}])
def test_a_date_far_outside_the_registry_is_refused(client, world, query):
    response = client.get("/api/v1/stats/admin-units", query_string=query, headers=world.headers["admin"])
    assert response.status_code == 422 and list(query) == list(response.get_json()["errors"])


def test_a_method_a_route_does_not_take_is_405_with_allow(client, world):
    lens = client.put(f"/api/v1/lenses/{world.objects['a']['lens']}", json={}, headers=world.headers["admin"])
    assert lens.status_code == 405 and lens.get_json()["code"] == "method_not_allowed"
    assert {"GET", "PATCH", "DELETE"} <= {method.strip() for method in lens.headers["Allow"].split(",")}
    ogc = client.post("/ogc/conformance", headers=world.headers["admin"])
    assert ogc.status_code == 405 and set(ogc.get_json()) == {"code", "description"} and "GET" in ogc.headers["Allow"]


def test_unmatched_tile_and_ogc_paths_answer_in_their_own_shapes(client, world):
    tile = client.get("/tiles/lenses/0/0/null.mvt", headers=world.headers["admin"])
    assert tile.status_code == 404 and {"code", "message", "errors"} <= set(tile.get_json())
    ogc = client.get("/ogc/nowhere", headers=world.headers["admin"])
    assert ogc.status_code == 404 and ogc.get_json()["code"] == "NotFound"


def test_the_document_says_what_is_sent(client):
    document = client.get("/api/openapi.json").get_json()
    lenses = document["paths"]["/api/v1/lenses"]["get"]
    header = lenses["responses"]["200"]["headers"]["X-Pagination"]
    assert header["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/PaginationMetadata"}
    page = next(parameter for parameter in lenses["parameters"] if parameter["name"] == "page")
    assert page["schema"]["maximum"] == 2**31 - 1
    lens_id = document["paths"]["/api/v1/lenses/{lens_id}"]["parameters"][0]
    assert lens_id["schema"]["maximum"] == 2**31 - 1
    assert set(lenses["responses"]["200"]["content"]) == {"application/json", "application/geo+json"}
    assert document["components"]["schemas"]["Error"]["properties"]["code"]["type"] == "string"
    ogc_error = document["paths"]["/ogc/conformance"]["get"]["responses"]["default"]
    assert ogc_error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/OgcException"}
