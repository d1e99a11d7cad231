"""Accounts, tokens, the login page, CSRF and the users/tokens commands, on the test database."""

from __future__ import annotations

import re
import stat
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from camera_registry.http.actor import current_actor, require_csrf_for_cookie_auth
from camera_registry.models import AdminLevel, AdminUnit, AuditEvent, Role, User
from camera_registry.models.base import utcnow
from camera_registry.services import accounts, supervision
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.errors import Conflict, PermissionDenied, ValidationFailed
from camera_registry.timezones import local_today

PASSWORD = "correct horse battery"


@pytest.fixture()
def units(session):
    """Hà Nội, the pre-reform Quận Đống Đa, Phường Đống Đa and Xã Chí Đám (codes as in the sample)."""
    hanoi = AdminUnit(code="01", name="Thành phố Hà Nội", level=AdminLevel.PROVINCE)
    phu_tho = AdminUnit(code="25", name="Tỉnh Phú Thọ", level=AdminLevel.PROVINCE)
    dong_da_district = AdminUnit(code="006", name="Quận Đống Đa", level=AdminLevel.DISTRICT, parent=hanoi)
    dong_da = AdminUnit(code="00226", name="Phường Đống Đa", level=AdminLevel.COMMUNE, parent=hanoi)
    chi_dam = AdminUnit(code="07915", name="Xã Chí Đám", level=AdminLevel.COMMUNE, parent=phu_tho)
    session.add_all([hanoi, phu_tho, dong_da_district, dong_da, chi_dam])
    session.flush()
    return {unit.code: unit for unit in (hanoi, phu_tho, dong_da_district, dong_da, chi_dam)}


@pytest.fixture()
def police(session, units):
    user = accounts.create_user(session, SYSTEM, "police.dongda", PASSWORD, "commune_police", "00226", "Nguyễn Văn A")
    session.commit()
    return user


def _audit(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


# --------------------------------------------------------------------------- passwords and users


def test_password_is_hashed_with_argon2_and_checked(session, police):
    assert police.password_hash.startswith("$argon2id$") and PASSWORD not in police.password_hash
    assert accounts.authenticate_password(session, "police.dongda", PASSWORD) is police
    assert accounts.authenticate_password(session, "police.dongda", "wrong password!") is None
    assert accounts.authenticate_password(session, "nobody.here", PASSWORD) is None


def test_outdated_hash_is_rehashed_at_login(session, police):
    police.password_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    old_hash = police.password_hash
    assert accounts.authenticate_password(session, "police.dongda", PASSWORD) is police
    assert police.password_hash != old_hash
    assert not PasswordHasher().check_needs_rehash(police.password_hash)


def test_short_password_and_bad_username_are_refused_by_field(session, units):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user(session, SYSTEM, "No Spaces!", "short", Role.ADMIN, None)
    assert set(refused.value.errors) == {"username", "password"}
    assert "at least 10 characters" in refused.value.errors["password"][0]


def test_duplicate_username_is_a_conflict_naming_the_field(session, police):
    with pytest.raises(Conflict) as refused:
        accounts.create_user(session, SYSTEM, "police.dongda", PASSWORD, Role.COMMUNE_POLICE, "00226")
    assert refused.value.errors == {"username": ["is already taken"]}


@pytest.mark.parametrize(
    "role, code, reason",
    [
        (Role.COMMUNE_POLICE, "006", "must be bound to a commune"),
        (Role.DISTRICT_STAFF, "00226", "must be bound to a district"),
        (Role.PROVINCE_STAFF, "006", "must be bound to a province"),
        (Role.COMMUNE_POLICE, None, "is required for commune_police"),
        (Role.ADMIN, "99999", "no administrative unit has the code '99999'"),
    ],
)
def test_role_must_match_the_level_of_its_unit(session, units, role, code, reason):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user(session, SYSTEM, "someone", PASSWORD, role, code)
    assert reason in refused.value.errors["admin_unit_code"][0]


def test_staff_are_bound_to_an_open_supervision_group(session, units):
    supervision.create_group(session, SYSTEM, code="HN-TT", name="Cụm", province_code="01", commune_codes=["00226"])
    user = accounts.create_user(session, SYSTEM, "staff.cum", PASSWORD, Role.DISTRICT_STAFF, None, "", "HN-TT")
    assert user.supervision_group.code == "HN-TT" and user.admin_unit is None
    [event] = _audit(session, "user.created")
    assert event.details["supervision_group_code"] == "HN-TT"
    assert actor_for(session, user).readable_communes == {units["00226"].id}


@pytest.mark.parametrize(
    "role, unit_code, field, reason",
    [
        (Role.COMMUNE_POLICE, None, "group_code", "only district_staff is bound to a supervision group"),
        (Role.DISTRICT_STAFF, "006", "admin_unit_code", "give a unit or a supervision group, not both"),
    ],
)
def test_a_group_binds_only_staff_without_a_unit(session, units, role, unit_code, field, reason):
    supervision.create_group(session, SYSTEM, code="HN-TT", name="Cụm", province_code="01", commune_codes=["00226"])
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user(session, SYSTEM, "someone", PASSWORD, role, unit_code, "", "HN-TT")
    assert reason in refused.value.errors[field][0]


def test_closed_units_and_groups_and_missing_bindings_are_refused_naming_the_field(session, units):
    supervision.create_group(session, SYSTEM, code="HN-OLD", name="Cụm", province_code="01", commune_codes=["00226"])
    supervision.close_group(session, SYSTEM, "HN-OLD", effective=local_today() + timedelta(days=1))
    session.flush()
    refusals = {}
    for role, unit_code, group_code in (
        (Role.DISTRICT_STAFF, None, "HN-OLD"),
        (Role.DISTRICT_STAFF, None, "HN-NONE"),
        (Role.DISTRICT_STAFF, None, None),
    ):
        with pytest.raises(ValidationFailed) as refused:
            accounts.create_user(session, SYSTEM, "someone", PASSWORD, role, unit_code, "", group_code)
        refusals[group_code] = refused.value.errors["group_code"][0]
    assert refusals == {
        "HN-OLD": "supervision group 'HN-OLD' is closed",
        "HN-NONE": "supervision group 'HN-NONE' does not exist",
        None: "is required for district_staff: the code of a supervision group",
    }
    units["006"].valid_to = local_today()
    with pytest.raises(ValidationFailed) as closed:
        accounts.create_user(session, SYSTEM, "someone", PASSWORD, Role.DISTRICT_STAFF, "006")
    assert "006 (Quận Đống Đa) is closed" in closed.value.errors["admin_unit_code"][0]
    assert session.scalar(select(User).where(User.username == "someone")) is None


def test_unknown_role_is_refused(session, units):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user(session, SYSTEM, "someone", PASSWORD, "mayor", "01")
    assert "'mayor' is not a role" in refused.value.errors["role"][0]


def test_only_an_admin_creates_or_lists_users(session, police):
    actor = actor_for(session, police)
    with pytest.raises(PermissionDenied):
        accounts.create_user(session, actor, "another.one", PASSWORD, Role.COMMUNE_POLICE, "00226")
    with pytest.raises(PermissionDenied):
        accounts.list_users(session, actor)


def test_user_creation_is_audited_without_the_password(session, police):
    [event] = _audit(session, "user.created")
    assert event.entity_id == str(police.id) and event.actor_label == "system"
    assert event.details == {"username": "police.dongda", "role": "commune_police", "admin_unit_code": "00226"}
    assert PASSWORD not in repr(event.details) and police.password_hash not in repr(event.details)


def test_deactivated_user_cannot_log_in(session, police):
    accounts.deactivate_user(session, SYSTEM, "police.dongda")
    assert accounts.authenticate_password(session, "police.dongda", PASSWORD) is None
    assert [event.to_state for event in _audit(session, "user.deactivated")] == ["inactive"]
    with pytest.raises(Conflict):
        accounts.deactivate_user(session, SYSTEM, "police.dongda")


# --------------------------------------------------------------------------- tokens


def test_token_secret_is_random_shown_once_and_stored_as_a_hash(session, police):
    token, secret = accounts.create_token(session, SYSTEM, police, "laptop")
    assert secret.startswith("crt_") and len(secret) >= 4 + 43  # 32 random bytes, base64url
    assert secret not in token.token_hash and len(token.token_hash) == 64
    assert accounts.authenticate_token(session, secret) is police
    [event] = _audit(session, "token.created")
    assert secret not in repr(event.details) and token.token_hash not in repr(event.details)
    assert event.details["username"] == "police.dongda"


def test_wrong_or_revoked_secret_does_not_authenticate(session, police):
    token, secret = accounts.create_token(session, SYSTEM, police, "laptop")
    assert accounts.authenticate_token(session, secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert accounts.authenticate_token(session, "not-a-token") is None
    accounts.revoke_token(session, actor_for(session, police), token.id)
    assert accounts.authenticate_token(session, secret) is None
    assert accounts.token_state(token) == "revoked"
    with pytest.raises(Conflict):
        accounts.revoke_token(session, SYSTEM, token.id)


def test_token_expires(session, police):
    token, secret = accounts.create_token(session, SYSTEM, police, "short-lived", expires_in_days=1)
    assert accounts.authenticate_token(session, secret, now=utcnow() + timedelta(hours=23)) is police
    assert accounts.authenticate_token(session, secret, now=utcnow() + timedelta(days=1, minutes=1)) is None
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_token(session, SYSTEM, police, " ", expires_in_days=0)
    assert set(refused.value.errors) == {"name", "expires_in_days"}


def test_token_of_a_deactivated_user_stops_working(session, police):
    _, secret = accounts.create_token(session, SYSTEM, police, "laptop")
    accounts.deactivate_user(session, SYSTEM, "police.dongda")
    assert accounts.authenticate_token(session, secret) is None


def test_last_used_is_written_at_most_once_per_resolution(session, police):
    token, secret = accounts.create_token(session, SYSTEM, police, "laptop")
    first = utcnow()
    accounts.authenticate_token(session, secret, now=first)
    accounts.authenticate_token(session, secret, now=first + accounts.LAST_USED_RESOLUTION - timedelta(seconds=1))
    assert token.last_used_at == first
    later = first + accounts.LAST_USED_RESOLUTION
    accounts.authenticate_token(session, secret, now=later)
    assert token.last_used_at == later


def test_only_the_owner_or_an_admin_revokes_a_token(session, units, police):
    other = accounts.create_user(session, SYSTEM, "police.chidam", PASSWORD, Role.COMMUNE_POLICE, "07915")
    token, _ = accounts.create_token(session, SYSTEM, police, "laptop")
    with pytest.raises(PermissionDenied):
        accounts.revoke_token(session, actor_for(session, other), token.id)
    with pytest.raises(PermissionDenied):
        accounts.create_token(session, actor_for(session, other), police, "sneaky")
    assert [t.id for t in accounts.list_tokens(session, police)] == [token.id]


# --------------------------------------------------------------------------- login page


def _login(client, username="police.dongda", password=PASSWORD, next_url=None):
    url = "/login" + (f"?next={next_url}" if next_url else "")
    page = client.get(url)
    return client.post(
        url, data={"username": username, "password": password, "csrf_token": _csrf_token(page.get_data(as_text=True))}
    )


def test_login_page_has_vietnamese_form_with_csrf_token(client):
    page = client.get("/login")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Tên đăng nhập" in html and "Mật khẩu" in html and "Đăng nhập" in html
    assert _csrf_token(html)


def test_login_sets_a_session_cookie_and_redirects(client, police):
    response = _login(client, next_url="/healthz")
    assert response.status_code == 302 and response.headers["Location"] == "/healthz"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Nguyễn Văn A" in client.get("/login").get_data(as_text=True)  # signed in: the header names the user


def test_wrong_password_is_refused_with_401_and_a_message(client, police):
    response = _login(client, password="not the password")
    assert response.status_code == 401
    assert "Sai tên đăng nhập hoặc mật khẩu" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, police):
    response = client.post("/login", data={"username": "police.dongda", "password": PASSWORD})
    assert response.status_code == 400
    assert "Nguyễn Văn A" not in client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example", "/\\evil.example"])
def test_login_never_redirects_off_site(client, police, target):
    response = _login(client, next_url=target)
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_logout_ends_the_session(client, police):
    _login(client)
    page = client.get("/login").get_data(as_text=True)
    assert client.post("/logout").status_code == 400  # CSRF-protected
    response = client.post("/logout", data={"csrf_token": _csrf_token(page)})
    assert response.status_code == 302
    assert "Nguyễn Văn A" not in client.get("/login").get_data(as_text=True)


# --------------------------------------------------------------------------- actor and CSRF for the API


def test_bearer_token_and_session_cookie_give_the_actor(app, client, session, police):
    _, secret = accounts.create_token(session, SYSTEM, police, "laptop")
    session.commit()
    with app.test_request_context("/api/v1/x", headers={"Authorization": f"Bearer {secret}"}):
        assert current_actor().user_id == police.id
    with app.test_request_context("/api/v1/x", headers={"Authorization": "Bearer crt_forged"}):
        assert current_actor() is None

    _login(client)
    cookie = f"session={client.get_cookie('session').value}"
    with app.test_request_context("/api/v1/x", headers={"Cookie": cookie}):
        actor = current_actor()
        assert actor.user_id == police.id and actor.can_write(police.admin_unit_id)
    accounts.deactivate_user(session, SYSTEM, "police.dongda")
    session.commit()
    with app.test_request_context("/api/v1/x", headers={"Cookie": cookie}):
        assert current_actor() is None


def test_cookie_authenticated_api_writes_need_the_csrf_header(app, client, session, police):
    _login(client)
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    cookie = f"session={client.get_cookie('session').value}"
    with app.test_request_context("/api/v1/x", method="POST", headers={"Cookie": cookie}), pytest.raises(CSRFError):
        require_csrf_for_cookie_auth()
    with app.test_request_context("/api/v1/x", method="POST", headers={"Cookie": cookie, "X-CSRFToken": token}):
        require_csrf_for_cookie_auth()
    with app.test_request_context("/api/v1/x", method="GET", headers={"Cookie": cookie}):
        require_csrf_for_cookie_auth()
    _, secret = accounts.create_token(session, SYSTEM, police, "script")
    with app.test_request_context("/api/v1/x", method="POST", headers={"Authorization": f"Bearer {secret}"}):
        require_csrf_for_cookie_auth()


# --------------------------------------------------------------------------- CLI


def create_police_by_cli(runner, username: str, unit: str, password: str):
    """`users create` for a commune police officer, the password typed on stdin."""
    return runner.invoke(
        args=[
            "users",
            "create",
            "--username",
            username,
            "--role",
            "commune_police",
            "--unit",
            unit,
            "--password-stdin",
        ],
        input=f"{password}\n",
    )


def test_cli_creates_a_user_from_stdin_and_a_token_that_authenticates(app, session, units):
    runner = app.test_cli_runner()
    result = create_police_by_cli(runner, "police.dongda", "00226", PASSWORD)
    assert result.exit_code == 0, result.output
    user = session.scalar(select(User).where(User.username == "police.dongda"))
    assert accounts.authenticate_password(session, "police.dongda", PASSWORD) is user

    result = runner.invoke(args=["tokens", "create", "--username", "police.dongda", "--name", "ci"])
    assert result.exit_code == 0, result.output
    assert "cannot be shown again" in result.output
    [secret] = [line for line in result.stdout.splitlines() if line.startswith("crt_")]
    assert accounts.authenticate_token(session, secret) == user

    listed = runner.invoke(args=["tokens", "list", "--username", "police.dongda"])
    assert "ci" in listed.output and "active" in listed.output
    token_id = accounts.list_tokens(session, user)[0].id
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    session.expire_all()
    assert accounts.authenticate_token(session, secret) is None


def test_cli_refusals_are_one_clear_line(app, session, units):
    runner = app.test_cli_runner()
    result = create_police_by_cli(runner, "x.police", "006", "short")
    assert result.exit_code == 1
    assert "password: must be at least 10 characters" in result.output
    assert "admin_unit_code: commune_police must be bound to a commune" in result.output
    assert session.scalar(select(User).where(User.username == "x.police")) is None
    missing = runner.invoke(args=["tokens", "create", "--username", "ghost", "--name", "ci"])
    assert missing.exit_code == 1 and "no user is called 'ghost'" in missing.output


def test_cli_lists_and_deactivates_users(app, police):
    runner = app.test_cli_runner()
    assert "police.dongda" in runner.invoke(args=["users", "list"]).output
    assert runner.invoke(args=["users", "deactivate", "police.dongda"]).exit_code == 0
    again = runner.invoke(args=["users", "deactivate", "police.dongda"])
    assert again.exit_code == 1 and "already deactivated" in again.output


def test_sample_load_creates_and_prints_demo_accounts(app, session):
    result = app.test_cli_runner().invoke(args=["sample", "load"])
    assert result.exit_code == 0, result.output
    assert "DEMO accounts" in result.output and "Deactivate them before real use" in result.output
    users = {user.username: user for user in session.scalars(select(User))}
    assert {
        (user.role, user.admin_unit.code if user.admin_unit else None, user.supervision_group_id is not None)
        for user in users.values()
    } == {
        (Role.ADMIN, None, False),
        (Role.PROVINCE_STAFF, "01", False),
        (Role.DISTRICT_STAFF, None, True),
        (Role.COMMUNE_POLICE, "00235", False),
        (Role.COMMUNE_POLICE, "07999", False),
    }
    group = users["demo.cumtrungtam"].supervision_group
    assert (group.code, group.name) == ("HN-TT", "Cụm phường trung tâm")
    assert sorted(commune.code for commune in group.communes) == ["00004", "00070", "00226", "00235", "00292"]
    credentials = Path(app.instance_path) / "demo-credentials.txt"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    passwords = dict(
        line.split()[:2] for line in credentials.read_text(encoding="utf-8").splitlines() if line.startswith("demo.")
    )
    assert set(passwords) == set(users)
    for username, password in passwords.items():
        assert password in result.output
        assert accounts.authenticate_password(session, username, password) is users[username]
    assert accounts.create_demo_accounts(session) == []
