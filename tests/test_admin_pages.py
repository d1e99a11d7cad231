"""The admin home and the admins' contact-reads page (issue 15, items 3 and 8): admins only; each disclosure of
an owner's contacts listed with who, when and where, filtered by commune and period, paged."""

from __future__ import annotations

import re

import pytest
from owner_support import police_actor
from request_support import open_request

from camera_registry.services.audit import record
from camera_registry.web import admin


@pytest.fixture()
def read_on_a_request_page(client, world):
    """Commune A's police opened a request and read its page (owner a's phone shown), and read owner b's through
    the API as an admin would; the request's id."""
    created = open_request(client, world).get_json()
    assert client.get(f"/requests/{created['id']}", headers=world.headers["police_a"]).status_code == 200
    assert (
        client.get(f"/api/v1/owners/{world.objects['b']['owner']}", headers=world.headers["admin"]).status_code == 200
    )
    return created["id"]


def test_the_admin_home_links_the_admin_pages_and_only_admins_open_it(client, world):
    home = client.get("/admin", headers=world.headers["admin"])
    html = home.get_data(as_text=True)
    assert home.status_code == 200 and "Quản trị" in html
    for href in ("/admin/contact-reads", "/admin/channels", "/figures", "/api/docs"):
        assert f'href="{href}"' in html
    assert "Contact reads" in client.get("/admin?lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    assert 'href="/admin"' in html and 'href="/figures"' in html  # in the header
    for role in ("police_a", "district_staff", "province_staff"):
        assert client.get("/admin", headers=world.headers[role]).status_code == 403
        header = client.get("/figures", headers=world.headers[role]).get_data(as_text=True)
        assert 'href="/admin"' not in header and 'href="/figures"' in header
    assert client.get("/admin").status_code == 302


def test_the_contact_reads_page_lists_each_disclosure_with_who_when_and_where(client, world, read_on_a_request_page):
    request_id = read_on_a_request_page
    html = client.get("/admin/contact-reads", headers=world.headers["admin"]).get_data(as_text=True)
    rows = re.findall(r'<tr data-owner="(\d+)">(.*?)</tr>', html, re.S)
    by_owner = {int(owner): row for owner, row in rows}
    assert set(by_owner) == {world.objects["a"]["owner"], world.objects["b"]["owner"]}
    read_a = by_owner[world.objects["a"]["owner"]]
    assert "Owner a" in read_a and "Xã A" in read_a and "police-a (công an xã)" in read_a
    assert "trên trang yêu cầu" in read_a and f'href="/requests/{request_id}"' in read_a
    assert "qua API chủ camera" in by_owner[world.objects["b"]["owner"]]
    assert "0912345678" not in html  # the page says who read the contacts, never the contacts

    only_b = client.get("/admin/contact-reads?commune=B", headers=world.headers["admin"]).get_data(as_text=True)
    assert re.findall(r'<tr data-owner="(\d+)">', only_b) == [str(world.objects["b"]["owner"])]
    owner_a = client.get(f"/admin/contact-reads?owner={world.objects['a']['owner']}", headers=world.headers["admin"])
    assert re.findall(r'<tr data-owner="(\d+)">', owner_a.get_data(as_text=True)) == [str(world.objects["a"]["owner"])]
    long_ago = client.get("/admin/contact-reads?from=2020-01-01&to=2020-02-01", headers=world.headers["admin"])
    assert "<tr data-owner=" not in long_ago.get_data(as_text=True)


def test_the_contact_reads_page_pages_and_refuses_what_it_cannot_read(client, session, world, read_on_a_request_page):
    officer, owner_a = police_actor(session), world.objects["a"]["owner"]
    for _ in range(admin.CONTACT_READS_PER_PAGE):  # with the fixture's two, one page and two lines more
        record(session, officer, "owner.contacts_read", "owner", None, details={"owner_ids": [owner_a]})
    session.commit()
    first = client.get("/admin/contact-reads?lang=en", headers=world.headers["admin"]).get_data(as_text=True)
    assert first.count("<tr data-owner=") == admin.CONTACT_READS_PER_PAGE and "page 1 of 2" in first
    assert 'rel="next"' in first and "not recorded" in first  # reads audited without where they were shown
    second = client.get("/admin/contact-reads?page=2", headers=world.headers["admin"]).get_data(as_text=True)
    assert second.count("<tr data-owner=") == 2 and 'rel="prev"' in second

    unknown = client.get("/admin/contact-reads?commune=nowhere", headers=world.headers["admin"])
    assert unknown.status_code == 422 and "commune" in unknown.get_data(as_text=True)
    bad_page = client.get("/admin/contact-reads?page=0", headers=world.headers["admin"])
    assert bad_page.status_code == 422 and "page" in bad_page.get_data(as_text=True)
    for role in ("police_a", "district_staff"):
        assert client.get("/admin/contact-reads", headers=world.headers[role]).status_code == 403
