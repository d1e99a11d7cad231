"""Accounts under attack: guessable passwords, copied session cookies, password guessing at /login."""

from __future__ import annotations

import re
import time

import pytest
from conftest import NEW_PASSWORD, PASSWORD
from sqlalchemy import select

from camera_registry.models import AuditEvent, User
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.errors import ValidationFailed


def _csrf_token(html: str) -> str:
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _login(client, username="police.dongda", password=PASSWORD, headers=None):
    page = client.get("/login", headers=headers)
    return client.post(
        "/login",
        headers=headers,
        data={"username": username, "password": password, "csrf_token": _csrf_token(page.get_data(as_text=True))},
    )


def _me(client) -> int:
    return client.get("/api/v1/users/me").status_code


def _audit(session, action: str) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --------------------------------------------------------------------------- passwords (NIST SP 800-63B)


@pytest.mark.parametrize(
    "password, reason",
    [
        ("aaaaaaaaaa", "repeats the same characters"),
        ("abcabcabcabc", "repeats the same characters"),
        ("1234567890", "most commonly used passwords"),
        ("qwertyuiop", "most commonly used passwords"),
        ("abcdefghijk", "sequence of characters"),
        ("9876543210x", "sequence of characters"),
        ("asdfghjkl;'", "row of keys"),
        ("Password2024!", "common password or word"),
        ("police.dongda!", "must not contain the username"),
        ("Nguyễn Văn A 123", "must not contain the username or the person's name"),
        ("matkhau@2025", "name of this service"),
        ("camera an ninh 1", "name of this service"),
        ("short", "at least 10 characters"),
        ("x" * 257, "at most 256 characters"),
    ],
)
def test_guessable_passwords_are_refused_naming_the_field_and_reason(session, world, password, reason):
    with pytest.raises(ValidationFailed) as refused:
        accounts.create_user(session, SYSTEM, "police.dongda", password, "commune_police", "A", "Nguyễn Văn A")
    assert list(refused.value.errors) == ["password"]
    assert reason in refused.value.errors["password"][0]


def test_a_passphrase_is_accepted(session, world):
    assert accounts.create_user(session, SYSTEM, "police.dongda", PASSWORD, "commune_police", "A").id
    assert accounts.password_problems("xK9#mP2$vLq7") == []


def test_the_api_answers_422_for_a_guessable_password(client, world):
    answer = client.post(
        "/api/v1/users",
        headers=world.headers["admin"],
        json={"username": "police.new", "password": "aaaaaaaaaa", "role": "commune_police", "admin_unit_code": "A"},
    )
    assert answer.status_code == 422
    assert "repeats the same characters" in answer.get_json()["errors"]["password"][0]


def test_a_password_change_checks_the_policy_and_the_current_password(session, police):
    actor = actor_for(session, police)
    with pytest.raises(ValidationFailed) as refused:
        accounts.change_password(session, actor, "police.dongda", "1234567890", current_password=PASSWORD)
    assert "password" in refused.value.errors
    with pytest.raises(ValidationFailed) as refused:
        accounts.change_password(session, actor, "police.dongda", NEW_PASSWORD, current_password="wrong one!")
    assert "current_password" in refused.value.errors
    accounts.change_password(session, actor, "police.dongda", NEW_PASSWORD, current_password=PASSWORD)
    assert accounts.authenticate_password(session, "police.dongda", NEW_PASSWORD) is police
    event = _audit(session, "user.password_changed")[-1]
    assert NEW_PASSWORD not in repr(event.details) and PASSWORD not in repr(event.details)


# --------------------------------------------------------------------------- sessions


def test_a_cookie_copied_before_logout_is_refused_after_it(app, client, police):
    _login(client)
    copied = client.get_cookie("session").value
    assert _me(client) == 200
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302

    thief = app.test_client()
    thief.set_cookie("session", copied)
    assert _me(thief) == 401


def test_logout_ends_the_sessions_on_other_devices_too(app, client, police):
    other_device = app.test_client()
    _login(client)
    _login(other_device)
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/logout", data={"csrf_token": token})
    assert _me(other_device) == 401
    _login(other_device)  # signing in again works
    assert _me(other_device) == 200


def test_deactivation_and_a_password_change_end_sessions(app, client, session, police):
    _login(client)
    accounts.change_password(session, SYSTEM, "police.dongda", NEW_PASSWORD)
    session.commit()
    assert _me(client) == 401

    _login(client, password=NEW_PASSWORD)
    copied = client.get_cookie("session").value
    accounts.deactivate_user(session, SYSTEM, "police.dongda")
    session.commit()
    assert _me(client) == 401
    session.get(User, police.id).active = True  # reactivating the account does not revive the old cookie
    session.commit()
    revived = app.test_client()
    revived.set_cookie("session", copied)
    assert _me(revived) == 401


def test_a_session_ends_after_the_idle_timeout(app, client, police):
    _login(client)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    with client.session_transaction() as cookie:
        cookie["seen_at"] = int(time.time() - idle + 120)
    assert _me(client) == 200  # in time: the request moves the idle clock on, in the cookie
    with client.session_transaction() as cookie:
        assert time.time() - cookie["seen_at"] < 5
        cookie["seen_at"] = int(time.time() - idle - 1)
    assert _me(client) == 401
    assert client.get_cookie("session") is None  # the ended session's cookie is dropped


def test_a_session_ends_after_the_absolute_timeout_however_busy(app, client, police):
    _login(client)
    with client.session_transaction() as cookie:
        cookie["login_at"] = int(time.time() - app.config["SESSION_ABSOLUTE_HOURS"] * 3600 - 1)
    assert _me(client) == 401


def test_a_cookie_without_the_session_fields_is_refused(app, client, police):
    """A cookie signed before this change held only the user id."""
    with client.session_transaction() as cookie:
        cookie["user_id"] = police.id
    assert _me(client) == 401


# --------------------------------------------------------------------------- sign-in throttling and audit


def test_wrong_passwords_for_one_username_are_throttled_with_a_plain_429(app, client, police):
    limit = int(app.config["LOGIN_RATE_LIMIT_USERNAME"].split("/")[0])
    for _ in range(limit):
        assert _login(client, password="not the password").status_code == 401
    throttled = _login(client)  # even the right password, until the limit clears
    assert throttled.status_code == 429
    html = throttled.get_data(as_text=True)
    assert "Đăng nhập sai quá nhiều lần" in html and "phút" in html
    assert int(throttled.headers["Retry-After"]) > 0
    assert _me(client) == 401
    # From another address the username is still throttled; another username is not.
    elsewhere = {"X-Forwarded-For": "203.0.113.9"}
    assert _login(client, password=PASSWORD, headers=elsewhere).status_code == 429
    assert _login(client, username="someone.else", password="whatever it is").status_code == 401


def test_one_address_trying_many_usernames_is_throttled(app, client, police, monkeypatch):
    monkeypatch.setitem(app.config, "LOGIN_RATE_LIMIT_ADDRESS", "3/minute")
    for n in range(3):
        assert _login(client, username=f"guess.{n}", password="not the password").status_code == 401
    assert _login(client).status_code == 429


def test_a_successful_sign_in_does_not_count(app, client, police):
    limit = int(app.config["LOGIN_RATE_LIMIT_USERNAME"].split("/")[0])
    for _ in range(limit + 2):
        assert _login(client).status_code == 302


def test_sign_ins_are_audited_without_passwords(client, session, police):
    _login(client, password="not the password")
    _login(client, username="typed-a-password-here", password="whatever it is")
    _login(client)
    failed = _audit(session, "user.login_failed")
    assert [event.details.get("reason") for event in failed] == ["wrong password", "unknown username"]
    assert failed[0].entity_id == str(police.id) and failed[0].details["username"] == "police.dongda"
    assert "username" not in failed[1].details and failed[1].entity_id is None  # could be somebody's password
    assert all(event.details["address"] == "127.0.0.1" for event in failed)
    signed_in = _audit(session, "user.login")
    assert len(signed_in) == 1 and signed_in[0].actor_user_id == police.id
    assert not [
        event
        for event in (*failed, *signed_in)
        if "not the password" in repr(event.details) or PASSWORD in repr(event.details)
    ]
