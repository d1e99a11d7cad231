"""The admins' pages of staff accounts and their tokens (issue 15, item 2): each change through its form, audited,
each refusal a 4xx naming the field with nothing written, and only admins let in."""

from __future__ import annotations

import re

import pytest
from conftest import PASSWORD
from sqlalchemy import select

from camera_registry.models import ApiToken, AuditEvent, Role, User
from camera_registry.services import accounts, supervision
from camera_registry.services.access import SYSTEM

ADMIN_PASSWORD = "quiet orchard telescope"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_of(client, path="/login") -> str:
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username, password):
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_of(client)})
    assert response.status_code == 302, response.get_data(as_text=True)[:300]


def post(client, path, **form):
    """A page's form posted with the CSRF field its page carries."""
    return client.post(path, data={"csrf_token": csrf_of(client, "/admin/users"), **form})


def reasons_for(html: str, field: str) -> list[str]:
    return re.findall(rf'<p class="error"[^>]*data-error="{field}">([^<]*)</p>', html)


def audited(session, action: str) -> list[AuditEvent]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture()
def chief(session, world):
    """An administrator who signs in with a password."""
    user = accounts.create_user(session, SYSTEM, "chief.admin", ADMIN_PASSWORD, Role.ADMIN, None, "Trần Quản Trị")
    session.commit()
    return user


@pytest.fixture()
def admin_client(app, chief):
    client = app.test_client()
    sign_in(client, "chief.admin", ADMIN_PASSWORD)
    return client


def user_named(session, username) -> User:
    session.expire_all()
    return session.scalar(select(User).where(User.username == username))


# --------------------------------------------------------------------------- who may open the pages


def test_only_admins_open_the_account_pages_and_the_signed_out_are_sent_to_sign_in(client, world, police):
    pages = ("/admin/users", "/admin/users/new", "/admin/users/police.dongda", "/admin/users/police.dongda/deactivate")
    for path in pages:
        assert client.get(path, headers=world.headers["admin"]).status_code == 200, path
        for role in ("police_a", "district_staff", "province_staff"):
            assert client.get(path, headers=world.headers[role]).status_code == 403, (path, role)
        signed_out = client.get(path)
        assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]
    home = client.get("/admin", headers=world.headers["admin"]).get_data(as_text=True)
    assert 'href="/admin/users"' in home


def test_a_police_officer_posting_to_the_account_forms_is_refused_and_nothing_changes(app, session, world, police):
    officer = app.test_client()
    sign_in(officer, "police.dongda", PASSWORD)
    token = csrf_of(officer)
    for path, form in (
        ("/admin/users/new", {"username": "sneaky", "role": "admin", "password_choice": "generate"}),
        ("/admin/users/police-b/deactivate", {}),
        ("/admin/users/police-b/password", {}),
        ("/admin/users/police.dongda/binding", {"role": "admin"}),
    ):
        assert officer.post(path, data={"csrf_token": token, **form}).status_code == 403, path
    assert user_named(session, "sneaky") is None and user_named(session, "police-b").active
    assert user_named(session, "police.dongda").role == Role.COMMUNE_POLICE


# --------------------------------------------------------------------------- the list


def test_the_list_shows_roles_in_words_units_by_name_state_and_last_sign_in(app, admin_client, session, world, police):
    sign_in(app.test_client(), "police.dongda", PASSWORD)
    accounts.deactivate_user(session, SYSTEM, "police-b")
    session.commit()
    html = admin_client.get("/admin/users").get_data(as_text=True)
    rows = dict(re.findall(r'<tr data-username="([^"]+)"[^>]*>(.*?)</tr>', html, re.S))
    assert {"chief.admin", "police.dongda", "police-a", "police-b", "district-staff", "province-staff"} <= set(rows)
    assert "công an xã" in rows["police.dongda"] and "Xã A" in rows["police.dongda"]
    assert "đang hoạt động" in rows["police.dongda"] and "chưa bao giờ" not in rows["police.dongda"]
    assert "chưa bao giờ" in rows["police-a"] and "đã khoá" in rows["police-b"]
    assert not any("commune_police" in row for row in rows.values())  # roles in words, not codes

    def listed(query):
        page = admin_client.get(f"/admin/users?{query}").get_data(as_text=True)
        return set(re.findall(r'<tr data-username="([^"]+)"', page))

    assert listed("role=commune_police") == {"police.dongda", "police-a", "police-b"}
    assert listed("binding=A") == {"police.dongda", "police-a"}
    assert listed("active=false") == {"police-b"}
    assert listed("role=commune_police&active=true&binding=B") == set()
    english = admin_client.get("/admin/users?lang=en").get_data(as_text=True)
    assert "commune police" in english and "never" in english

    bad = admin_client.get("/admin/users?role=chief")
    assert bad.status_code == 422 and reasons_for(bad.get_data(as_text=True), "role")


# --------------------------------------------------------------------------- creating an account


def test_a_new_account_gets_a_generated_password_shown_once_that_signs_in(app, admin_client, session, world):
    created = post(
        admin_client,
        "/admin/users/new",
        username="police.a2",
        full_name="Lê Văn Hai",
        role="commune_police",
        admin_unit_code="A",
        password_choice="generate",
    )
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="one-time-password">([^<]+)<', created.get_data(as_text=True)).group(1)
    assert not accounts.password_problems(password, "police.a2", "Lê Văn Hai")
    user = user_named(session, "police.a2")
    assert user.role == Role.COMMUNE_POLICE and user.admin_unit.code == "A" and user.full_name == "Lê Văn Hai"
    sign_in(app.test_client(), "police.a2", password)
    assert [event.details["username"] for event in audited(session, "user.created")][-1] == "police.a2"
    again = admin_client.get("/admin/users/police.a2").get_data(as_text=True)
    assert password not in again and user.password_hash not in again


def test_a_new_account_may_take_the_password_the_admin_typed_and_a_district_staff_a_group(
    app, admin_client, session, world
):
    created = post(
        admin_client,
        "/admin/users/new",
        username="staff.p",
        role="province_staff",
        admin_unit_code="P",
        password_choice="typed",
        password="amber kettle horizon",
    )
    assert created.status_code == 200 and 'id="typed-password"' in created.get_data(as_text=True)
    assert "amber kettle horizon" not in created.get_data(as_text=True)
    sign_in(app.test_client(), "staff.p", "amber kettle horizon")

    supervision.create_group(
        session, SYSTEM, code="P-AB", name="Cụm A và B", province_code="P", commune_codes=["A", "B"]
    )
    session.commit()
    grouped = post(admin_client, "/admin/users/new", username="staff.ab", role="district_staff", group_code="P-AB")
    assert grouped.status_code == 200 and user_named(session, "staff.ab").supervision_group.code == "P-AB"
    listed = admin_client.get("/admin/users?binding=P-AB").get_data(as_text=True)
    assert re.findall(r'<tr data-username="([^"]+)"', listed) == ["staff.ab"] and "Cụm A và B" in listed
    moved = post(admin_client, "/admin/users/staff.p/binding", role="district_staff", group_code="P-AB")
    assert moved.status_code == 303
    staff = user_named(session, "staff.p")
    assert (staff.role, staff.admin_unit, staff.supervision_group.code) == (Role.DISTRICT_STAFF, None, "P-AB")


@pytest.mark.parametrize(
    ("form", "field", "status"),
    [
        ({"username": "No Spaces", "role": "commune_police", "admin_unit_code": "A"}, "username", 422),
        (
            {"username": "weak.one", "role": "commune_police", "admin_unit_code": "A", "password": "1234567890"},
            "password",
            422,
        ),
        (
            {"username": "typed.none", "role": "commune_police", "admin_unit_code": "A", "password_choice": "typed"},
            "password",
            422,
        ),
        ({"username": "no.unit", "role": "commune_police"}, "admin_unit_code", 422),
        ({"username": "wrong.level", "role": "commune_police", "admin_unit_code": "P"}, "admin_unit_code", 422),
        ({"username": "no.group", "role": "district_staff"}, "group_code", 422),
        ({"username": "bad.role", "role": "chief", "admin_unit_code": "A"}, "role", 422),
        ({"username": "police-a", "role": "commune_police", "admin_unit_code": "A"}, "username", 409),
    ],
    ids=["username", "weak-password", "typed-but-empty", "no-unit", "wrong-level", "no-group", "role", "taken"],
)
def test_a_refused_new_account_names_the_field_and_writes_nothing(admin_client, session, world, form, field, status):
    form = {"password_choice": "typed" if "password" in form else "generate", **form}
    before = session.scalar(select(User.id).order_by(User.id.desc()))
    refused = post(admin_client, "/admin/users/new", **form)
    html = refused.get_data(as_text=True)
    assert refused.status_code == status and reasons_for(html, field), html[:2000]
    assert session.scalar(select(User.id).order_by(User.id.desc())) == before
    assert f'value="{form["username"]}"' in html  # the form is shown again as it was typed


def test_a_form_without_its_csrf_field_is_refused(admin_client, session, world, police):
    refused = admin_client.post(
        "/admin/users/new", data={"username": "no.csrf", "role": "commune_police", "admin_unit_code": "A"}
    )
    assert refused.status_code == 400 and user_named(session, "no.csrf") is None
    assert admin_client.post("/admin/users/police.dongda/deactivate").status_code == 400
    assert admin_client.post("/admin/users/police.dongda/password").status_code == 400
    assert user_named(session, "police.dongda").active


def test_a_form_refusal_of_the_page_speaks_the_page_language(admin_client, world):
    form = {"username": "typed.none", "role": "commune_police", "admin_unit_code": "A", "password_choice": "typed"}
    vi = post(admin_client, "/admin/users/new", **form).get_data(as_text=True)
    en = post(admin_client, "/admin/users/new?lang=en", **form).get_data(as_text=True)
    assert reasons_for(vi, "password") == ["hãy nhập mật khẩu, hoặc chọn mật khẩu tự tạo"]
    assert reasons_for(en, "password") == ["type the password, or choose a generated one"]


# --------------------------------------------------------------------------- role and binding


def test_an_admin_binds_an_account_anew_audited_and_a_bad_unit_changes_nothing(admin_client, session, world, police):
    moved = post(admin_client, "/admin/users/police.dongda/binding", role="commune_police", admin_unit_code="B")
    assert moved.status_code == 303 and user_named(session, "police.dongda").admin_unit.code == "B"
    (event,) = audited(session, "user.rebound")
    assert event.details["from"]["admin_unit_code"] == "A" and event.details["to"]["admin_unit_code"] == "B"

    refused = post(admin_client, "/admin/users/police.dongda/binding", role="province_staff", admin_unit_code="A")
    assert refused.status_code == 422 and reasons_for(refused.get_data(as_text=True), "admin_unit_code")
    user = user_named(session, "police.dongda")
    assert user.role == Role.COMMUNE_POLICE and user.admin_unit.code == "B"

    promoted = post(admin_client, "/admin/users/police.dongda/binding", role="province_staff", admin_unit_code="P")
    assert promoted.status_code == 303 and user_named(session, "police.dongda").role == Role.PROVINCE_STAFF
    own = post(admin_client, "/admin/users/chief.admin/binding", role="commune_police", admin_unit_code="A")
    assert own.status_code == 409 and user_named(session, "chief.admin").role == Role.ADMIN
    assert reasons_for(own.get_data(as_text=True), "role") == [
        "là vai trò của chính tài khoản ông/bà: việc đổi do một quản trị viên khác thực hiện"
    ]


# --------------------------------------------------------------------------- password reset


def signs_in(session, username, password) -> bool:
    session.expire_all()
    return accounts.authenticate_password(session, username, password) is not None


def test_a_reset_shows_a_one_time_password_and_ends_the_users_sessions(app, admin_client, session, world, police):
    officer = app.test_client()
    sign_in(officer, "police.dongda", PASSWORD)
    assert officer.get("/requests").status_code == 200
    reset = post(admin_client, "/admin/users/police.dongda/password", password_choice="generate")
    assert reset.status_code == 200 and reset.headers["Cache-Control"] == "no-store"
    password = re.search(r'id="one-time-password">([^<]+)<', reset.get_data(as_text=True)).group(1)
    assert officer.get("/requests").status_code == 302  # the old session ended
    assert not signs_in(session, "police.dongda", PASSWORD)
    sign_in(officer, "police.dongda", password)
    (event,) = audited(session, "user.password_changed")
    assert event.details == {"username": "police.dongda", "reset_by_admin": True}


def test_a_reset_to_a_typed_password_is_checked_by_the_policy(admin_client, session, world, police):
    weak = post(admin_client, "/admin/users/police.dongda/password", password_choice="typed", password="police.dongda1")
    assert weak.status_code == 422 and reasons_for(weak.get_data(as_text=True), "password")
    assert signs_in(session, "police.dongda", PASSWORD)
    typed = post(
        admin_client, "/admin/users/police.dongda/password", password_choice="typed", password="amber kettle horizon"
    )
    assert typed.status_code == 200 and 'id="typed-password"' in typed.get_data(as_text=True)
    assert signs_in(session, "police.dongda", "amber kettle horizon")
    own = post(admin_client, "/admin/users/chief.admin/password", password_choice="generate")
    assert own.status_code == 409 and signs_in(session, "chief.admin", ADMIN_PASSWORD)


# --------------------------------------------------------------------------- deactivation


def test_deactivation_asks_first_then_ends_sessions_and_tokens(app, admin_client, session, world, police):
    _, secret = accounts.create_token(session, SYSTEM, police, "laptop")
    session.commit()
    officer = app.test_client()
    sign_in(officer, "police.dongda", PASSWORD)
    asked = admin_client.get("/admin/users/police.dongda/deactivate").get_data(as_text=True)
    assert 'id="confirm-deactivation"' in asked and user_named(session, "police.dongda").active
    done = post(admin_client, "/admin/users/police.dongda/deactivate")
    assert done.status_code == 303 and not user_named(session, "police.dongda").active
    assert officer.get("/requests").status_code == 302
    assert app.test_client().get("/api/v1/users/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert len(audited(session, "user.deactivated")) == 1
    again = post(admin_client, "/admin/users/police.dongda/deactivate")
    assert again.status_code == 409 and reasons_for(again.get_data(as_text=True), "username")


def test_an_admin_cannot_deactivate_themselves(admin_client, session, world):
    page = admin_client.get("/admin/users/chief.admin/deactivate").get_data(as_text=True)
    assert 'id="confirm-deactivation"' not in page
    refused = post(admin_client, "/admin/users/chief.admin/deactivate")
    assert refused.status_code == 409 and reasons_for(refused.get_data(as_text=True), "username")
    assert user_named(session, "chief.admin").active and audited(session, "user.deactivated") == []


# --------------------------------------------------------------------------- tokens


def test_a_token_is_created_shown_once_listed_and_revoked_after_confirmation(app, admin_client, session, world, police):
    created = post(admin_client, "/admin/users/police.dongda/tokens", name="CAD bridge", expires_in_days="30")
    html = created.get_data(as_text=True)
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    secret = re.search(r'id="token-secret">([^<]+)<', html).group(1)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert app.test_client().get("/api/v1/users/me", headers=bearer).get_json()["username"] == "police.dongda"
    token = session.scalar(select(ApiToken).where(ApiToken.name == "CAD bridge"))
    page = admin_client.get("/admin/users/police.dongda").get_data(as_text=True)
    assert f'data-token="{token.id}" data-state="active"' in page and "CAD bridge" in page
    assert secret not in page and token.token_hash not in page and token.token_hash not in html

    confirm = admin_client.get(f"/admin/users/police.dongda/tokens/{token.id}/revoke")
    assert confirm.status_code == 200 and 'id="confirm-revocation"' in confirm.get_data(as_text=True)
    assert app.test_client().get("/api/v1/users/me", headers=bearer).status_code == 200
    revoked = post(admin_client, f"/admin/users/police.dongda/tokens/{token.id}/revoke")
    assert revoked.status_code == 303
    assert app.test_client().get("/api/v1/users/me", headers=bearer).status_code == 401
    assert f'data-token="{token.id}" data-state="revoked"' in admin_client.get("/admin/users/police.dongda").get_data(
        as_text=True
    )
    assert [event.action for event in audited(session, "token.revoked")] == ["token.revoked"]
    assert post(admin_client, f"/admin/users/police.dongda/tokens/{token.id}/revoke").status_code == 409


def test_a_refused_token_names_the_field_and_another_users_token_is_not_found(admin_client, session, world, police):
    before = session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc()))
    for form, field in (({"name": ""}, "name"), ({"name": "x", "expires_in_days": "0"}, "expires_in_days")):
        refused = post(admin_client, "/admin/users/police.dongda/tokens", **form)
        assert refused.status_code == 422 and reasons_for(refused.get_data(as_text=True), field), form
    assert session.scalar(select(ApiToken.id).order_by(ApiToken.id.desc())) == before
    others = session.scalar(select(ApiToken.id).join(User).where(User.username == "police-b"))
    assert admin_client.get(f"/admin/users/police.dongda/tokens/{others}/revoke").status_code == 404
    assert post(admin_client, f"/admin/users/police.dongda/tokens/{others}/revoke").status_code == 404
    assert admin_client.get("/admin/users/nobody").status_code == 404
    assert post(admin_client, "/admin/users/nobody/tokens", name="x").status_code == 404
