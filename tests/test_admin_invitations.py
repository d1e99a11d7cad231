"""The admins' invitations page (issue 15, items 2 and 7): owners with no commitment in force, by commune and paged;
inviting one or many, each owner's result or refusal shown; the invitations sent with their link's state; and a
signature on the web keeping the exact text its owner read, stored once per version and language."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta

import pytest
from owner_support import NOW
from sqlalchemy import func, select

from camera_registry.models import (
    AuditEvent,
    CommitmentText,
    OutboxMessage,
    Owner,
    OwnerKind,
    SharingCommitment,
)
from camera_registry.services.access import SYSTEM
from camera_registry.services.commitment_invitations import invite_to_sign
from camera_registry.services.commitments import stored_text
from camera_registry.services.errors import Conflict
from camera_registry.services.notifications import mint_owner_link
from camera_registry.services.owner_pages import CURRENT_TEXT_VERSION, TEXTS_DIR, commitment_text

BASE_URL = "http://127.0.0.1:5000"


def without_commitment(session, world, tag="a"):
    session.get(SharingCommitment, world.objects[tag]["commitment"]).revoked_at = NOW - timedelta(days=1)
    session.flush()


def unreachable_owner(session, world, external_id="owner-silent"):
    session.add(Owner(external_id=external_id, kind=OwnerKind.BUSINESS, name="Silent shop", commune=world.commune_a))
    session.flush()


def _page(client, world, query=""):
    return client.get(f"/admin/invitations{query}", headers=world.headers["admin"])


def _listed(html) -> list[str]:
    table = re.search(r'id="owners-to-invite">(.*?)</table>', html, re.S).group(1)
    return re.findall(r'<tr data-owner="([^"]+)">', table)


def _invite(client, world, *owners, query=""):
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', _page(client, world).get_data(as_text=True)).group(1)
    return client.post(
        f"/admin/invitations{query}", data={"csrf_token": csrf, "owner": list(owners)}, headers=world.headers["admin"]
    )


def _sent_states(html) -> list[tuple[str, str]]:
    return re.findall(r'<tr data-owner="([^"]+)" data-state="([^"]+)">', html)


def _signs(client, raw_token, lang="vi"):
    page = client.get(f"/o/{raw_token}?lang={lang}").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(f"/o/{raw_token}?lang={lang}", data={"csrf_token": csrf, "action": "sign"})


def _file_text(language) -> str:
    """The text file's words as the owner's page shows them (title, then paragraphs)."""
    path = TEXTS_DIR / f"{CURRENT_TEXT_VERSION}.{language}.md"
    blocks = [block.strip() for block in path.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    return "\n\n".join([blocks[0].lstrip("# ").strip(), *blocks[1:]])


def test_only_admins_open_the_page_or_invite(client, world):
    for role in ("police_a", "district_staff", "province_staff"):
        assert client.get("/admin/invitations", headers=world.headers[role]).status_code == 403
        refused = client.post("/admin/invitations", data={"owner": "owner-a"}, headers=world.headers[role])
        assert refused.status_code in (400, 403)  # no form of their own to take a CSRF token from
    assert client.get("/admin/invitations").status_code == 302
    assert 'href="/admin/invitations"' in client.get("/admin", headers=world.headers["admin"]).get_data(as_text=True)


def test_owners_without_a_commitment_in_force_are_listed_by_commune_and_paged(client, session, world):
    without_commitment(session, world)
    unreachable_owner(session, world)
    session.commit()
    html = _page(client, world).get_data(as_text=True)
    assert _listed(html) == ["owner-a", "owner-silent"]
    assert "không có điện thoại hay e-mail" in html or "no phone or e-mail" in html
    assert "0912345678" not in html and "a@example.vn" not in html  # whether they can be reached, not the contacts
    assert _listed(_page(client, world, "?commune=B").get_data(as_text=True)) == []
    unknown = _page(client, world, "?commune=ZZ")
    assert unknown.status_code == 422 and 'data-field="commune"' in unknown.get_data(as_text=True)
    assert _page(client, world, "?page=0").status_code == 422

    session.add_all(
        Owner(external_id=f"owner-x{n:02d}", kind=OwnerKind.HOUSEHOLD, name=f"X {n:02d}", commune=world.commune_b)
        for n in range(51)
    )
    session.commit()
    first = _page(client, world, "?commune=B").get_data(as_text=True)
    assert len(_listed(first)) == 50 and 'rel="next"' in first
    assert _listed(_page(client, world, "?commune=B&page=2").get_data(as_text=True)) == ["owner-x50"]


def test_inviting_several_owners_shows_each_result_and_refusal(client, session, world):
    without_commitment(session, world)
    unreachable_owner(session, world)
    session.commit()
    answered = _invite(client, world, "owner-a", "owner-silent", "owner-b", query="?lang=en")
    html = answered.get_data(as_text=True)
    assert answered.status_code == 200
    results = dict(re.findall(r'<li data-owner="([^"]+)" class="(invited|refused)">', html))
    assert results == {"owner-a": "invited", "owner-silent": "refused", "owner-b": "refused"}
    assert "no phone or e-mail" in html and "commitment in force" in html
    session.expire_all()
    invited = session.scalars(select(AuditEvent).where(AuditEvent.action == "commitment.invite")).all()
    assert [event.entity_id for event in invited] == [str(world.objects["a"]["owner"])]
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "commitment.invitation")).all()
    assert messages and {message.payload["invited_owner_id"] for message in messages} == {world.objects["a"]["owner"]}
    assert _sent_states(html) == [("owner-a", "open")]

    nobody = _invite(client, world)
    assert nobody.status_code == 422 and 'data-field="owner"' in nobody.get_data(as_text=True)


def test_the_sent_invitations_show_signed_open_and_expired_links(client, session, world):
    without_commitment(session, world)
    without_commitment(session, world, "b")
    stale = invite_to_sign(session, SYSTEM, "owner-b", public_base_url=BASE_URL, now=NOW - timedelta(days=40))
    assert stale.link_expires_at < NOW
    invitation = invite_to_sign(session, SYSTEM, "owner-a", public_base_url=BASE_URL, now=NOW - timedelta(minutes=1))
    raw_token = mint_owner_link(session, invitation.messages[0])
    session.commit()
    assert _sent_states(_page(client, world).get_data(as_text=True)) == [("owner-a", "open"), ("owner-b", "expired")]

    assert _signs(client, raw_token).status_code == 303
    html = _page(client, world).get_data(as_text=True)
    assert _sent_states(html) == [("owner-a", "signed"), ("owner-b", "expired")]
    text_href = re.search(r'class="signed-text" href="([^"]+)"', html).group(1)
    text_page = client.get(text_href, headers=world.headers["admin"])
    shown = text_page.get_data(as_text=True)
    assert hashlib.sha256(_file_text("vi").encode()).hexdigest() in shown
    assert client.get("/admin/invitations/texts/999999", headers=world.headers["admin"]).status_code == 404
    assert client.get(text_href, headers=world.headers["police_a"]).status_code == 403


def _signed_through_a_link(client, session, world, tag, lang):
    without_commitment(session, world, tag)
    invitation = invite_to_sign(session, SYSTEM, f"owner-{tag}", public_base_url=BASE_URL)
    raw_token = mint_owner_link(session, invitation.messages[0])
    session.commit()
    assert _signs(client, raw_token, lang).status_code == 303
    shown = client.get(f"/o/{raw_token}?lang={lang}").get_data(as_text=True)
    assert 'id="signed-text"' in shown and commitment_text(lang).paragraphs[-1] in shown  # the owner sees it too
    session.expire_all()
    return session.scalars(
        select(SharingCommitment)
        .where(SharingCommitment.owner_id == world.objects[tag]["owner"])
        .order_by(SharingCommitment.id.desc())
    ).first()


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_a_web_signature_keeps_the_exact_text_and_a_second_one_reuses_it(client, session, world, lang):
    first = _signed_through_a_link(client, session, world, "a", lang)
    text = first.text
    assert (text.version, text.language, first.text_version) == (CURRENT_TEXT_VERSION, lang, CURRENT_TEXT_VERSION)
    assert text.body == _file_text(lang) == commitment_text(lang).full_text
    assert text.sha256 == hashlib.sha256(_file_text(lang).encode("utf-8")).hexdigest()

    second = _signed_through_a_link(client, session, world, "b", lang)
    assert second.text_id == first.text_id
    assert session.scalar(select(func.count()).select_from(CommitmentText)) == 1


def test_a_text_changed_under_a_version_already_signed_is_refused(session):
    kept = stored_text(session, "2099.1", "vi", "Văn bản cam kết")
    assert stored_text(session, "2099.1", "vi", "Văn bản cam kết").id == kept.id
    with pytest.raises(Conflict, match="differs"):
        stored_text(session, "2099.1", "vi", "Văn bản cam kết đã sửa")
    assert stored_text(session, "2099.1", "en", "Commitment text").id != kept.id
