"""Headless Chromium, in Vietnamese and in English: an administrator dry-runs an edition of the units derived from
the one in force (a ward renamed), sees its report with nothing written, and loads it; then invites an owner with no
commitment, the owner opens the link on a phone and signs, and the administrator sees the invitation signed with the
exact text the owner read."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest
from browser_support import on_live_database, sign_in
from conftest import SCREENSHOTS
from geoalchemy2.shape import to_shape
from shapely.geometry import mapping
from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from camera_registry.models import AdminUnit, OutboxMessage, Owner, Role, SharingCommitment
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM
from camera_registry.services.commitments import active_commitment_at
from camera_registry.services.notifications import mint_owner_link
from camera_registry.services.owner_pages import commitment_text
from camera_registry.timezones import local_today

ADMIN = "admin.browser"
#: Per language: the ward the derived edition renames, and its new name.
RENAMED = {"vi": ("00292", "Phường Bạch Mai - Minh Khai"), "en": ("00082", "Phường Cửa Nam - Hàng Bông")}
WORDS = {
    "vi": {"dry_run": "Chạy thử", "signed": "chủ camera đã ký"},
    "en": {"dry_run": "Dry run", "signed": "owner signed"},
}


@pytest.fixture(scope="module")
def admin_account(live_server):
    def work(session):
        accounts.create_user(session, SYSTEM, ADMIN, live_server.password, Role.ADMIN, None)

    on_live_database(live_server, work)
    return ADMIN


def derived_edition(live_server, path, code, new_name):
    """Hà Nội's units in force, as a GeoJSON edition with ward `code` renamed."""

    def work(session):
        parent = aliased(AdminUnit)
        hanoi = session.scalar(select(AdminUnit).where(AdminUnit.code == "01", AdminUnit.valid_to.is_(None)))
        rows = session.execute(
            select(AdminUnit, parent.code)
            .join(parent, AdminUnit.parent_id == parent.id, isouter=True)
            .where(AdminUnit.valid_to.is_(None), (AdminUnit.id == hanoi.id) | (AdminUnit.parent_id == hanoi.id))
        ).all()
        return [
            {
                "type": "Feature",
                "properties": {
                    "code": unit.code,
                    "name": new_name if unit.code == code else unit.name,
                    "level": unit.level.value,
                    "parent_code": parent_code,
                },
                "geometry": mapping(to_shape(unit.boundary)) if unit.boundary is not None else None,
            }
            for unit, parent_code in rows
        ]

    path.write_text(json.dumps({"type": "FeatureCollection", "features": on_live_database(live_server, work)}))
    return path


def versions_of(live_server, code) -> int:
    return on_live_database(
        live_server, lambda session: session.scalar(select(func.count()).where(AdminUnit.code == code))
    )


def owner_to_invite(live_server) -> str:
    """The first owner of Phường Đống Đa the invitations page lists who has no commitment and can be reached."""

    def work(session):
        in_force = select(SharingCommitment.owner_id).where(active_commitment_at(datetime.now(UTC)))
        return session.scalar(
            select(Owner.external_id)
            .join(AdminUnit, Owner.commune_id == AdminUnit.id)
            .where(AdminUnit.code == "00235", Owner.id.not_in(in_force), Owner.phone.is_not(None))
            .order_by(Owner.commune_id, Owner.name, Owner.id)
            .limit(1)
        )

    return on_live_database(live_server, work)


def invitation_link(live_server, external_id) -> str:
    """The owner's link, minted from the invitation the page queued as the deliverer would."""

    def work(session):
        owner_id = session.scalar(select(Owner.id).where(Owner.external_id == external_id))
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "commitment.invitation").order_by(OutboxMessage.id.desc())
        ).first()
        assert message.payload["invited_owner_id"] == owner_id
        return mint_owner_link(session, message)

    return on_live_database(live_server, work)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_an_admin_loads_an_edition_after_a_dry_run_and_an_invited_owner_signs(
    page, phone, live_server, admin_account, tmp_path, backend, lang
):
    code, new_name = RENAMED[lang]
    edition = derived_edition(live_server, tmp_path / "ha-noi.geojson", code, new_name)
    sign_in(page, live_server, admin_account)
    page.goto(f"{live_server.url}/admin/editions?lang={lang}")
    page.check("#edition-form input[name=source][value=upload]")
    page.set_input_files("#edition-form input[name=file]", str(edition))
    page.fill("#edition-form input[name=effective]", local_today().isoformat())
    page.fill("#edition-form input[name=provinces]", "01")
    with page.expect_navigation(timeout=90_000):
        page.click(f"#edition-form button:has-text('{WORDS[lang]['dry_run']}')", no_wait_after=True)
    assert page.get_attribute("#report", "data-dry-run") == "yes"
    assert new_name in page.inner_text("#report-renamed")
    assert versions_of(live_server, code) == 1
    page.screenshot(path=str(SCREENSHOTS / f"admin-edition-dry-run-{lang}-{backend}.png"), full_page=True)
    with page.expect_navigation(timeout=90_000):
        page.click("#confirm-form button[type=submit]", no_wait_after=True)
    assert page.get_attribute("#report", "data-dry-run") == "no" and page.locator("#confirm-form").count() == 0
    assert versions_of(live_server, code) == 2
    assert page.locator(f'#in-force tr[data-from="{local_today().isoformat()}"]').count() == 1

    invited = owner_to_invite(live_server)
    page.goto(f"{live_server.url}/admin/invitations?commune=00235")
    page.check(f'#owners-to-invite tr[data-owner="{invited}"] input[type=checkbox]')
    with page.expect_navigation():
        page.click("#invite-form button[type=submit]")
    assert page.get_attribute(f'#invitation-results li[data-owner="{invited}"]', "class") == "invited"
    assert page.get_attribute(f'#sent-invitations tr[data-owner="{invited}"]', "data-state") == "open"

    phone.goto(f"{live_server.url}/o/{invitation_link(live_server, invited)}?lang={lang}")
    with phone.expect_navigation():
        phone.click("#sign-form button[type=submit]")
    assert phone.get_attribute("#answer", "data-answer") == "sign"

    page.goto(f"{live_server.url}/admin/invitations")
    row = page.locator(f'#sent-invitations tr[data-owner="{invited}"]').first
    assert row.get_attribute("data-state") == "signed" and WORDS[lang]["signed"] in row.inner_text()
    with page.expect_navigation():
        row.locator("a.signed-text").click()
    signed = commitment_text(lang).full_text
    assert hashlib.sha256(signed.encode()).hexdigest() in page.inner_text("#text-digest")
    assert commitment_text(lang).paragraphs[0] in page.inner_text("#signed-text")
    page.screenshot(path=str(SCREENSHOTS / f"admin-invitation-signed-{lang}-{backend}.png"), full_page=True)
    assert page.foreign_requests == [] and phone.foreign_requests == []
