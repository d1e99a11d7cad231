"""The front page: registry figures are not public, and a reader sees only their own reach."""

from __future__ import annotations

import re

import pytest

from camera_registry.services import overview


def communes_listed(html: str) -> list[str]:
    return re.findall(r'<tr data-commune="([^"]+)"', html)


def test_anonymous_visitors_are_sent_to_sign_in(client, world):
    answer = client.get("/")
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    assert "Xã A" not in answer.get_data(as_text=True)


def test_programme_totals_only_when_the_installation_shows_them(app, client, world, monkeypatch):
    monkeypatch.setitem(app.config, "PUBLIC_PROGRAMME_TOTALS", True)
    answer = client.get("/")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200 and 'id="programme-totals"' in html
    assert communes_listed(html) == [] and "Xã A" not in html and "Xã B" not in html and "Huyện Thử" not in html
    with app.extensions["session_factory"]() as session:
        totals = overview.programme_totals(session)
    assert (totals.communes, totals.recorders, totals.lenses) == (2, 2, 2)
    assert re.search(r"<th>Mắt camera</th><td>2</td>", html)


@pytest.mark.parametrize(
    "who, seen",
    [
        ("admin", ["A", "B"]),
        ("province_staff", ["A", "B"]),
        ("district_staff", ["A"]),
        ("police_a", ["A"]),
        ("police_b", ["B"]),
    ],
)
def test_signed_in_readers_see_only_their_own_reach(client, world, who, seen):
    answer = client.get("/", headers=world.headers[who])
    assert answer.status_code == 200
    assert sorted(communes_listed(answer.get_data(as_text=True))) == seen
