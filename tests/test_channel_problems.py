"""The admins' channel problems (services/channel_problems.py, /admin/channels, /readyz's channels check): the
providers' configuration errors that hold messages back, driven through the outbox against the simulators."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from channel_support import PHONE, channel_settings, esms_config, route
from notify_support import sessions_on

from camera_registry.services.channel_problems import channel_problems
from camera_registry.services.delivery import deliver_due
from camera_registry.timezones import local_time


@pytest.fixture()
def sms_only(app, esms_simulator):
    return channel_settings(app, **esms_config(esms_simulator))


def refused_146(session, settings, esms_simulator, communes=("a", "b")) -> None:
    """One request per commune, routed by day and sent now, each SMS refused by eSMS with 146 (its text matches
    no registered template)."""
    esms_simulator.phone_errors[PHONE] = "146"
    for commune in communes:
        route(session, settings, commune=commune)
        assert deliver_due(sessions_on(session), settings) == {"config_error": 1}


def test_an_esms_146_is_one_problem_with_its_code_since_when_and_how_many_it_held_back(
    world, session, sms_only, esms_simulator
):
    refused_146(session, sms_only, esms_simulator)

    [problem] = channel_problems(session, datetime.now(UTC))
    assert (problem.channel, problem.provider, problem.kind, problem.code) == (
        "sms",
        "esms",
        "assignment.request",
        "146",
    )
    assert problem.detail.startswith("eSMS 146: the text matches no customer-care template")
    assert problem.held_back == 2 and problem.since < problem.last_seen


def test_a_problem_is_gone_once_its_channel_and_kind_send_again(world, session, sms_only, esms_simulator):
    refused_146(session, sms_only, esms_simulator, communes=("a",))
    esms_simulator.phone_errors.clear()  # the admin registered the template

    route(session, sms_only, commune="b")
    assert deliver_due(sessions_on(session), sms_only) == {"sent": 1}
    assert channel_problems(session, datetime.now(UTC)) == []


@pytest.mark.parametrize(
    ("lang", "title", "kind", "held", "said"),
    [
        (
            "vi",
            "Sự cố kênh gửi tin",
            "đề nghị",
            "Số tin bị giữ lại",
            "eSMS 146: nội dung không khớp mẫu tin chăm sóc khách hàng nào đã đăng ký cho brandname",
        ),
        (
            "en",
            "Channel problems",
            "request",
            "held back",
            "eSMS 146: the text matches no customer-care template registered for the brandname",
        ),
    ],
)
def test_admins_see_the_problems_on_their_page_in_vietnamese_and_english(
    client, world, session, sms_only, esms_simulator, lang, title, kind, held, said
):
    refused_146(session, sms_only, esms_simulator)
    [problem] = channel_problems(session, datetime.now(UTC))

    page = client.get(f"/admin/channels?lang={lang}", headers=world.headers["admin"])

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f"<h1>{title}</h1>" in html and kind in html and held in html
    assert 'data-channel="sms" data-kind="assignment.request"' in html
    assert "146" in html and said in html
    assert local_time(problem.since) in html and '<td class="held-back">2</td>' in html


def test_only_admins_see_the_page_and_the_admin_home_links_it(client, world, session):
    for role in ("police_a", "province_staff"):
        assert client.get("/admin/channels", headers=world.headers[role]).status_code == 403
        assert "/admin/channels" not in client.get("/", headers=world.headers[role]).get_data(as_text=True)
    signed_out = client.get("/admin/channels")
    assert signed_out.status_code == 302 and "/login" in signed_out.headers["Location"]

    empty = client.get("/admin/channels?lang=en", headers=world.headers["admin"])
    assert "No channel problems" in empty.get_data(as_text=True)
    assert 'href="/admin/channels"' in client.get("/admin", headers=world.headers["admin"]).get_data(as_text=True)


def test_readyz_names_the_problem_and_stays_ready(client, world, session, sms_only, esms_simulator):
    assert client.get("/readyz").get_json()["checks"]["channels"] == {
        "ok": True,
        "reason": "no provider configuration error",
    }
    refused_146(session, sms_only, esms_simulator, communes=("a",))

    channels = client.get("/readyz").get_json()["checks"]["channels"]
    assert channels["ok"] is True
    assert channels["reason"].startswith("sms (esms) assignment.request: eSMS 146: the text matches no")
    assert channels["reason"].endswith("1 held back")
