"""Headless Chromium on a phone: an owner renews and sees the new end date, revokes only after confirming, and
an owner invited for the first time signs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from browser_support import on_live_database
from conftest import SCREENSHOTS
from sqlalchemy import select

from camera_registry.models import AdminUnit, LinkPurpose, Owner, SharingCommitment
from camera_registry.services.access import SYSTEM
from camera_registry.services.commitment_invitations import invite_to_sign
from camera_registry.services.commitments import active_commitment_at, last_day_in_force
from camera_registry.services.notifications import mint_owner_link
from camera_registry.services.owner_links import issue_link
from camera_registry.timezones import local_today


def owners_of_dong_da(session, *, in_force: bool):
    now = datetime.now(UTC)
    committed = select(SharingCommitment.owner_id).where(active_commitment_at(now))
    statement = (
        select(Owner)
        .join(AdminUnit, Owner.commune_id == AdminUnit.id)
        .where(AdminUnit.code == "00235", Owner.id.in_(committed) if in_force else Owner.id.not_in(committed))
        .order_by(Owner.id.desc())
    )
    return session.scalars(statement)


def renewal_link(live_server, owner_id: int | None = None) -> tuple[str, str, int]:
    """A commitment link for an owner of Phường Đống Đa with a commitment in force (its newest row made to end in
    20 days), or for `owner_id` as it stands; the end date shown, and the owner's id."""

    def work(session):
        owner = session.get(Owner, owner_id) if owner_id else owners_of_dong_da(session, in_force=True).first()
        commitment = max(owner.commitments, key=lambda row: row.signed_at)
        if owner_id is None:
            commitment.valid_until = datetime.now(UTC) + timedelta(days=20)
        token = issue_link(
            session,
            owner=owner,
            purpose=LinkPurpose.COMMITMENT,
            commitment=commitment,
            expires_at=datetime.now(UTC) + timedelta(days=20),
        )
        return token, f"{last_day_in_force(commitment.valid_until):%d/%m/%Y}", owner.id

    return on_live_database(live_server, work)


def invitation_link(live_server) -> str:
    """The link of an invitation to sign, queued and minted as the deliverer does, for an owner with none."""

    def work(session):
        owner = owners_of_dong_da(session, in_force=False).first()
        invitation = invite_to_sign(session, SYSTEM, owner.external_id, public_base_url=live_server.url)
        return mint_owner_link(session, invitation.messages[0])

    return on_live_database(live_server, work)


def test_an_owner_renews_and_sees_the_new_end_date_then_revokes_after_confirming(phone, live_server, backend):
    token, old_day, owner_id = renewal_link(live_server)
    phone.goto(f"{live_server.url}/o/{token}")
    assert old_day in phone.inner_text("#current-commitment")
    assert "bạn" not in phone.inner_text("main").lower().split()
    with phone.expect_navigation():
        phone.click("#renew-form button[type=submit]")
    today = local_today()
    new_day = f"{today.replace(year=today.year + 3):%d/%m/%Y}"
    assert new_day in phone.inner_text("#current-commitment") and old_day not in phone.inner_text("#current-commitment")
    assert phone.get_attribute("#answer", "data-answer") == "renew"
    phone.screenshot(path=str(SCREENSHOTS / f"owner-renewed-{backend}.png"), full_page=True)

    token, _, _ = renewal_link(live_server, owner_id)  # a second link: the renewal above is the one in force
    phone.goto(f"{live_server.url}/o/{token}")
    assert new_day in phone.inner_text("#current-commitment")
    revoke = phone.locator("#revoke button.danger")
    assert phone.locator("#renew-form").bounding_box()["y"] < revoke.bounding_box()["y"]
    revoke.click()  # the box is not ticked: the browser keeps the form
    assert phone.locator("#answer").count() == 0 and phone.locator("#revoke-form").count() == 1
    phone.check("#revoke-form input[name=confirm]")
    with phone.expect_navigation():
        revoke.click()
    assert phone.get_attribute("#answer", "data-answer") == "revoke"
    assert "thu hồi" in phone.inner_text("#current-commitment")
    phone.screenshot(path=str(SCREENSHOTS / f"owner-revoked-{backend}.png"), full_page=True)


def test_an_invited_owner_signs_a_first_commitment_in_english(phone, live_server):
    token = invitation_link(live_server)
    phone.goto(f"{live_server.url}/o/{token}?lang=en")
    assert phone.locator("#invitation").count() == 1 and phone.locator("#revoke").count() == 0
    assert "version" in phone.inner_text("#text-version")
    with phone.expect_navigation():
        phone.click("#sign-form button[type=submit]")
    assert phone.get_attribute("#answer", "data-answer") == "sign"
    today = local_today()
    assert f"{today.replace(year=today.year + 3):%d/%m/%Y}" in phone.inner_text("#current-commitment")
