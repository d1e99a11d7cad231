"""Changing a password: `POST /api/v1/users/me/password` for the signed-in user, and
`camera-registry users set-password USERNAME` for an operator's reset; both check the password policy
and end the user's other sessions."""

from __future__ import annotations

import re

import pytest
from conftest import NEW_PASSWORD, PASSWORD
from sqlalchemy import select

from camera_registry.models import AuditEvent


def _csrf_token(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)


def _login(client, password=PASSWORD) -> int:
    return client.post(
        "/login", data={"username": "police.dongda", "password": password, "csrf_token": _csrf_token(client)}
    ).status_code


def _me(client) -> int:
    return client.get("/api/v1/users/me").status_code


def _change(client, **body):
    return client.post("/api/v1/users/me/password", json=body, headers={"X-CSRFToken": _csrf_token(client)})


def test_a_user_changes_their_password_and_their_other_sessions_end(app, client, session, police):
    other_device = app.test_client()
    assert _login(client) == 302 and _login(other_device) == 302
    answer = _change(client, current_password=PASSWORD, new_password=NEW_PASSWORD)
    assert answer.status_code == 204, answer.get_json()
    assert _me(client) == 200  # this session carries on
    assert _me(other_device) == 401  # every other one has ended
    assert _login(app.test_client()) == 401 and _login(app.test_client(), NEW_PASSWORD) == 302
    [event] = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.password_changed")).all()
    assert event.details["reset_by_admin"] is False and NEW_PASSWORD not in repr(event.details)


@pytest.mark.parametrize(
    "body, field, reason",
    [
        (
            {"current_password": "not it at all", "new_password": NEW_PASSWORD},
            "current_password",
            "is not your current password",
        ),
        ({"current_password": PASSWORD, "new_password": "1234567890"}, "new_password", "commonly used"),
        ({"current_password": PASSWORD, "new_password": "short"}, "new_password", "at least 10"),
        ({"current_password": PASSWORD, "new_password": "police.dongda!!"}, "new_password", "username"),
        ({"new_password": NEW_PASSWORD}, "current_password", "Missing data"),
        ({"current_password": PASSWORD}, "new_password", "Missing data"),
    ],
)
def test_a_refused_change_names_the_field_and_changes_nothing(app, client, police, body, field, reason):
    assert _login(client) == 302
    answer = _change(client, **body)
    assert answer.status_code == 422, answer.get_json()
    errors = answer.get_json()["errors"]
    assert list(errors) == [field] and any(reason in text for text in errors[field]), errors
    assert _me(client) == 200 and _login(app.test_client()) == 302  # the old password still works


def test_an_administrator_gives_their_own_current_password_too(client, world):
    admin = world.headers["admin"]
    answer = client.post(
        "/api/v1/users/me/password", headers=admin, json={"current_password": "a guess", "new_password": NEW_PASSWORD}
    )
    assert answer.status_code == 422 and "current_password" in answer.get_json()["errors"]


def test_a_cookie_session_needs_the_csrf_token(client, police):
    assert _login(client) == 302
    answer = client.post("/api/v1/users/me/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert answer.status_code == 400


# --------------------------------------------------------------------------- the CLI


def test_set_password_from_stdin_resets_and_ends_sessions(app, client, session, police):
    assert _login(client) == 302
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", "police.dongda", "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert result.exit_code == 0, result.output
    assert "password of police.dongda changed" in result.output
    assert _me(client) == 401
    assert _login(app.test_client(), NEW_PASSWORD) == 302
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.password_changed")).all()[-1]
    assert event.details["reset_by_admin"] is True


def test_set_password_prompts_twice(app, police):
    runner = app.test_cli_runner()
    mismatch = runner.invoke(
        args=["users", "set-password", "police.dongda"],
        input=f"{NEW_PASSWORD}\nsomething else\n{NEW_PASSWORD}\n{NEW_PASSWORD}\n",
    )
    assert mismatch.exit_code == 0, mismatch.output
    assert "do not match" in mismatch.output.lower() or "don't match" in mismatch.output.lower()
    assert _login(app.test_client(), NEW_PASSWORD) == 302


@pytest.mark.parametrize(
    "username, password, message",
    [
        ("police.dongda", "aaaaaaaaaa", "repeats the same characters"),
        ("police.dongda", "short", "at least 10"),
        ("nobody.here", NEW_PASSWORD, "nobody.here"),
    ],
)
def test_set_password_refuses_with_a_clear_message_and_a_non_zero_exit(app, police, username, password, message):
    result = app.test_cli_runner().invoke(
        args=["users", "set-password", username, "--password-stdin"], input=password + "\n"
    )
    assert result.exit_code != 0
    assert message in result.output
    assert _login(app.test_client()) == 302  # nothing changed
