"""Every kind of API error in the reader's language: Vietnamese with no English left in it, English with no
Vietnamese, from marshmallow's own reasons, the services' refusals, the HTTP layer's statuses and the
importer's row errors alike; and a page's form error in Vietnamese."""

from __future__ import annotations

import io
import string
from datetime import timedelta

import marshmallow as ma
import pytest
from import_support import GOOD_ROW, register
from request_support import NOW, act, iso, open_request, request_body
from translation_support import english_words, has_vietnamese, texts_of

from camera_registry.http.messages import LIBRARY_REASONS, library_message
from camera_registry.services.messages import refusal

MISSING = 2**31 - 1
REQUESTS = "/api/v1/footage-requests"


def _create(client, world, language, **overrides):
    body = request_body(**overrides)
    for field in [name for name, value in overrides.items() if value is None]:
        del body[field]
    return client.post(REQUESTS, json=body, headers={**world.headers["police_a"], "Accept-Language": language})


def _routed_assignment(client, world):
    return open_request(client, world).get_json()["assignments"][0]


def _import(client, world, language, content: bytes):
    return client.post(
        "/api/v1/imports",
        headers={**world.headers["police_a"], "Accept-Language": language},
        data={"file": (io.BytesIO(content), "register.csv")},
        content_type="multipart/form-data",
    )


def _too_large(client, world, app, language):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    try:
        return _import(client, world, language, register(*[GOOD_ROW.format(n=n) for n in range(40)]))
    finally:
        app.config["MAX_CONTENT_LENGTH"] = 64 * 1024 * 1024


def _stale(client, world, language):
    assignment = _routed_assignment(client, world)
    return client.post(
        f"/api/v1/assignments/{assignment['id']}/decline",
        json={"version": assignment["version"] + 5},
        headers={**world.headers["police_a"], "Accept-Language": language},
    )


def _illegal(client, world, language):
    assignment = _routed_assignment(client, world)
    act(client, world, assignment, "decline")
    return client.post(
        f"/api/v1/assignments/{assignment['id']}/consent",
        json={},
        headers={**world.headers["police_a"], "Accept-Language": language},
    )


def _get(client, world, path, language, role="police_a", **headers):
    return client.get(path, headers={**world.headers[role], "Accept-Language": language, **headers})


#: Each kind of API error: its status and how to provoke it, (client, world, app, language) -> response.
ERRORS = {
    "422 marshmallow: required, range, unknown field": (
        422,
        lambda client, world, app, language: _create(client, world, language, case_ref=None, radius_m=-1, colour=1),
    ),
    "422 marshmallow: length and datetime": (
        422,
        lambda client, world, app, language: _create(client, world, language, reason="", window_start="yesterday"),
    ),
    "422 service: window order": (
        422,
        lambda client, world, app, language: _create(client, world, language, window_end=iso(NOW - timedelta(hours=4))),
    ),
    "422 service: window in the future": (
        422,
        lambda client, world, app, language: _create(client, world, language, window_end=iso(NOW + timedelta(days=1))),
    ),
    "422 service: incident outside the commune": (
        422,
        lambda client, world, app, language: _create(
            client, world, language, incident={"type": "Point", "coordinates": [109.0, 12.0]}
        ),
    ),
    "422 GeoJSON outside Vietnam": (
        422,
        lambda client, world, app, language: _create(
            client, world, language, incident={"type": "Point", "coordinates": [2.35, 48.85]}
        ),
    ),
    "422 import rows": (
        422,
        lambda client, world, app, language: _import(
            client,
            world,
            language,
            register(GOOD_ROW.format(n=1).replace(",90,90,30,", ",400,90,30,"), GOOD_ROW.format(n=2)[:-20]),
        ),
    ),
    "422 If-Match": (
        422,
        lambda client, world, app, language: client.patch(
            f"/api/v1/owners/{world.objects['a']['owner']}",
            json={"name": "Hộ mới"},
            headers={**world.headers["police_a"], "Accept-Language": language, "If-Match": "W/x"},
        ),
    ),
    "401 anonymous": (401, lambda client, world, app, language: _get(client, world, REQUESTS, language, "anonymous")),
    "403 staff may not file": (
        403,
        lambda client, world, app, language: client.post(
            REQUESTS, json=request_body(), headers={**world.headers["province_staff"], "Accept-Language": language}
        ),
    ),
    "404 record": (404, lambda client, world, app, language: _get(client, world, f"{REQUESTS}/{MISSING}", language)),
    "404 route": (404, lambda client, world, app, language: _get(client, world, "/api/v1/no-such-thing", language)),
    "405 method": (
        405,
        lambda client, world, app, language: client.delete(
            REQUESTS, headers={**world.headers["police_a"], "Accept-Language": language}
        ),
    ),
    "409 stale version": (409, lambda client, world, app, language: _stale(client, world, language)),
    "409 illegal transition": (409, lambda client, world, app, language: _illegal(client, world, language)),
    "409 illegal step, naming the allowed ones": (
        409,
        lambda client, world, app, language: client.post(
            f"{REQUESTS}/{open_request(client, world).get_json()['id']}/open",
            json={},
            headers={**world.headers["police_a"], "Accept-Language": language},
        ),
    ),
    "413 upload too large": (413, lambda client, world, app, language: _too_large(client, world, app, language)),
}


def _said(response, world) -> list[str]:
    """What the error says to people: its message and reasons, not the codes a client acts on (an illegal
    step's allowed_actions) nor the registry's own Vietnamese names (communes' names)."""
    body = response.get_json()
    names = [unit.name for unit in (world.province, world.district, world.commune_a, world.commune_b)]
    reasons = {field: value for field, value in body["errors"].items() if field != "allowed_actions"}
    texts = texts_of({"message": body["message"], "errors": reasons})
    for name in names:
        texts = [text.replace(name, "") for text in texts]
    return texts


#: What must not be left in an answer in each language: English words in Vietnamese, Vietnamese in English.
FOREIGN = {"vi": english_words, "en": has_vietnamese}


@pytest.mark.parametrize("language", list(FOREIGN))
@pytest.mark.parametrize("kind", list(ERRORS))
def test_every_api_error_speaks_the_readers_language_only(client, world, app, kind, language):
    status, provoke = ERRORS[kind]
    response = provoke(client, world, app, language)
    assert response.status_code == status, response.get_data(as_text=True)
    said = _said(response, world)
    assert said and all(text.strip() for text in said)
    assert [text for text in said if FOREIGN[language](text)] == []


def test_english_answers_keep_the_words_the_api_always_used(client, world):
    body = _create(client, world, "en", window_end=iso(NOW - timedelta(hours=4))).get_json()
    assert body["message"] == "window_end: must be after window_start"
    assert body["errors"] == {"window_end": ["must be after window_start"]}
    missing = _create(client, world, "en", case_ref=None).get_json()
    assert missing["errors"]["case_ref"] == ["Missing data for required field."]


def test_the_window_error_reads_in_vietnamese_on_the_request_form(client, world, app, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", False)
    form = {
        "case_ref": "VV-1",
        "reason": "Trộm xe máy",
        "legal_basis": "Điều 145",
        "incident": '{"type": "Point", "coordinates": [105.8202, 21.02]}',
        "window_start": (NOW - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "window_end": (NOW - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"),
        "radius_m": "100",
    }
    page = client.post("/requests/new?lang=vi", data=form, headers=world.headers["police_a"])
    assert page.status_code == 422
    assert "phải sau thời điểm bắt đầu" in page.get_data(as_text=True)
    missing = client.post("/requests/new?lang=vi", data={**form, "case_ref": ""}, headers=world.headers["police_a"])
    assert missing.status_code == 422 and "Thiếu dữ liệu cho trường bắt buộc." in missing.get_data(as_text=True)


def test_a_refusal_is_english_text_that_remembers_how_to_say_it_again():
    message = refusal("must be after %(other)s", other="window_start")
    assert message == "must be after window_start" and message.msgid == "must be after %(other)s"
    assert message.params == {"other": "window_start"}


@pytest.mark.parametrize(
    ("text", "msgid", "params"),
    [
        ("Must be greater than or equal to 1.", "Must be greater than or equal to %(min)s.", {"min": "1"}),
        ("Must be greater than 0.", "Must be greater than %(min)s.", {"min": "0"}),
        ("Must be one of: a, b.", "Must be one of: %(choices)s.", {"choices": "a, b"}),
        ("Missing data for required field.", "Missing data for required field.", {}),
    ],
)
def test_marshmallows_reasons_are_read_back_as_their_templates(text, msgid, params):
    found = library_message(text)
    assert (found.msgid, found.params) == (msgid, params)


def _formatted_library_reasons() -> set[str]:
    """Every reason marshmallow's fields and validators can give, formatted as marshmallow formats them."""
    reasons = {
        message
        for field in vars(ma.fields).values()
        if isinstance(field, type) and issubclass(field, ma.fields.Field)
        for message in field.default_error_messages.values()
    } | set(ma.Schema._default_error_messages.values())
    for rule in (ma.validate.OneOf, ma.validate.Equal, ma.validate.ContainsOnly, ma.validate.ContainsNoneOf):
        reasons.add(rule.default_message)
    reasons |= {ma.validate.Length.message_min, ma.validate.Length.message_max}
    reasons |= {ma.validate.Length.message_all, ma.validate.Length.message_equal}
    range_ = ma.validate.Range
    for min_op in (range_.message_gte, range_.message_gt):
        reasons.add(range_.message_min.format(min_op=min_op))
        reasons |= {
            range_.message_all.format(min_op=min_op, max_op=op) for op in (range_.message_lte, range_.message_lt)
        }
    reasons |= {range_.message_max.format(max_op=op) for op in (range_.message_lte, range_.message_lt)}
    return reasons


def test_every_reason_marshmallow_gives_is_in_the_catalogs():
    samples = {"obj_type": "datetime", "awareness": "aware", "input": "x"}
    unknown = []
    for template in _formatted_library_reasons():
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name]
        text = template.format(**{name: samples.get(name, "1") for name in names})
        serialising = text.startswith(("'x'", '"x"'))  # "cannot be formatted": only when writing an answer
        if library_message(text) is None and not serialising:
            unknown.append(text)
    assert unknown == []
    assert len(set(LIBRARY_REASONS)) == len(LIBRARY_REASONS)


def test_a_figures_period_that_ends_before_it_starts_is_refused_in_each_language(client, world):
    asked = "/api/v1/stats/admin-units?from=2026-05-01&to=2026-04-01"
    for language, reason in (("vi", "phải sau từ ngày"), ("en", "must be after from")):
        answer = client.get(asked, headers={**world.headers["admin"], "Accept-Language": language})
        assert answer.status_code == 422 and reason in answer.get_json()["errors"]["to"][0], answer.get_json()
