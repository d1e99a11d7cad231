"""Each role lands on its work after signing in (issue 15, item 8): police on their requests, staff on the map,
admins on the admin home; a `next` on this site still wins, and one elsewhere still lands on the front page."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD

from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM


@pytest.fixture()
def accounts_by_role(session, world, police):
    """One signing-in account per role (the police one is the `police` fixture's)."""
    for username, role, unit in (
        ("admin.one", "admin", None),
        ("staff.province", "province_staff", "P"),
        ("staff.district", "district_staff", "D"),
    ):
        accounts.create_user(session, SYSTEM, username, PASSWORD, role, unit)
    session.commit()


def _signed_in_at(client, username: str, query: str = "") -> str:
    form = client.get(f"/login{query}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    answer = client.post(f"/login{query}", data={"username": username, "password": PASSWORD, "csrf_token": csrf})
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return answer.headers["Location"]


@pytest.mark.parametrize(
    ("username", "landing"),
    [
        ("police.dongda", "/requests"),
        ("staff.province", "/map"),
        ("staff.district", "/map"),
        ("admin.one", "/admin"),
    ],
)
def test_each_role_lands_on_its_work(client, accounts_by_role, username, landing):
    assert _signed_in_at(client, username) == landing
    assert client.get(landing).status_code == 200


@pytest.mark.parametrize("username", ["police.dongda", "staff.district", "admin.one"])
def test_a_next_page_on_this_site_still_wins(client, accounts_by_role, username):
    assert _signed_in_at(client, username, "?next=/figures?level=province") == "/figures?level=province"


def test_a_next_page_elsewhere_lands_on_the_front_page(client, accounts_by_role):
    assert _signed_in_at(client, "admin.one", "?next=//evil.example") == "/"
