"""The ZNS and SMS provider layer (services/channels/), against local simulators of each provider.

Every adapter is driven over real HTTP on 127.0.0.1 (tests/provider_simulators.py):
the exact request each sends, the outcome of each documented answer, token
refresh, idempotency, and the delivery callbacks with their authentication.
"""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest
from hypothesis import given
from hypothesis import strategies as st
from translation_support import has_vietnamese

from camera_registry.services.channels import esms, speedsms, zns
from camera_registry.services.channels.base import (
    Outcome,
    OutcomeKind,
    Outgoing,
    Provider,
    ReceiptStatus,
    callback_token,
    callback_token_valid,
)
from camera_registry.services.channels.phones import (
    MOBILE_PREFIXES,
    OLD_PREFIXES,
    PhoneError,
    network,
    normalise_phone,
)
from camera_registry.services.channels.quiet_hours import earliest_send
from camera_registry.services.channels.templates import (
    TEMPLATES,
    MessageKind,
    Param,
    ParamType,
    TemplateError,
    _slots,
    registered_sms_templates,
    sms_parts,
    templates_in,
    validate,
)
from camera_registry.services.vietnamese import strip_accents
from camera_registry.timezones import LOCAL_ZONE

PHONE = "84987654321"
REQUEST_VALUES = {
    "owner_name": "Nguyễn Văn An",
    "police_unit": "Công an phường Hoàn Kiếm",
    "ask": "đồng ý cho trích xuất",
    "window_start": "20:00 01/03/2025",
    "window_end": "21:00 01/03/2025",
    "case_ref": "HK-2025-017",
    "keep_until": "20:00 08/03/2025",
    "deadline": "20:00 08/03/2025",
    "link": "https://camera.example.vn/o/" + "t" * 43,
}
REQUEST_SMS = (
    "Cong an phuong Hoan Kiem de nghi ong/ba dong y cho trich xuat du lieu camera 20:00 01/03/2025-"
    "21:00 01/03/2025 (vu viec HK-2025-017). Giu den 20:00 08/03/2025, tra loi truoc 20:00 08/03/2025: "
    "https://camera.example.vn/o/" + "t" * 43
)
VIETNAMESE_IDS = {
    MessageKind.REQUEST: "401001",
    MessageKind.REMINDER: "401002",
    MessageKind.RENEWAL: "401003",
    MessageKind.INVITATION: "401004",
}
ENGLISH_IDS = {kind: f"50{template_id[2:]}" for kind, template_id in VIETNAMESE_IDS.items()}
TEMPLATE_IDS = {"vi": VIETNAMESE_IDS, "en": ENGLISH_IDS}


def request_to(phone: str = PHONE, key: str = "assignment:7:request:sms", **changes) -> Outgoing:
    return Outgoing(
        idempotency_key=key, phone=phone, kind=MessageKind.REQUEST, parameters={**REQUEST_VALUES, **changes}
    )


# --------------------------------------------------------------------------- phones


@pytest.mark.parametrize(
    "written",
    [
        "0987 654 321",
        "+84 987654321",
        "84987654321",
        "(098) 765-4321",
        "0987.654.321",
        "987654321",
        "+84 (0)987 654 321",
    ],
)
def test_the_ways_people_write_a_mobile_number_normalise_to_84(written):
    assert normalise_phone(written) == PHONE


@pytest.mark.parametrize(
    ("written", "reason"),
    [
        ("024 3825 1234", "not a Vietnamese mobile number: landline prefix 024"),
        ("0236 3822 123", "not a Vietnamese mobile number: landline prefix 0236"),
        ("+84 28 3829 1234", "not a Vietnamese mobile number: landline prefix 028"),
        ("0168 888 8888", "old 11-digit prefix 0168 became 038"),
        ("84 123 456 7890", "old 11-digit prefix 0123 became 083"),
        ("0988 888 88", "10 digits expected, got 9"),
        ("0988 888 88888", "10 digits expected, got 12"),
        ("011 234 5678", "not a Vietnamese mobile number: no network uses prefix 011"),
        ("+1 202 555 0100", "not a Vietnamese number: country code +120"),
        ("0987 65 43 2l", "a phone number has digits only"),
        ("  ", "no phone number given"),
    ],
)
def test_a_number_that_cannot_get_an_sms_is_refused_with_its_reason(written, reason):
    with pytest.raises(PhoneError) as refused:
        normalise_phone(written)
    assert str(refused.value).startswith(reason)
    assert isinstance(refused.value, ValueError)


def test_a_normalised_number_knows_its_network():
    assert [network(normalise_phone(number)) for number in ("0987654321", "0777123456", "0559123456")] == [
        "Viettel",
        "MobiFone",
        "Reddi",
    ]


@given(
    prefix=st.sampled_from(sorted(MOBILE_PREFIXES)),
    subscriber=st.text("0123456789", min_size=7, max_size=7),
    style=st.sampled_from(["0{p}{s}", "+84{p}{s}", "84{p}{s}", "0{p} {a} {b}", "(0{p}) {a}-{b}", "+84 {p}.{a}.{b}"]),
)
def test_every_current_mobile_number_in_any_usual_style_normalises(prefix, subscriber, style):
    written = style.format(p=prefix, s=subscriber, a=subscriber[:3], b=subscriber[3:])
    assert normalise_phone(written) == f"84{prefix}{subscriber}"


@given(old=st.sampled_from(sorted(OLD_PREFIXES)), subscriber=st.text("0123456789", min_size=7, max_size=7))
def test_every_retired_11_digit_number_names_its_new_prefix(old, subscriber):
    with pytest.raises(PhoneError, match=f"old 11-digit prefix {old} became {OLD_PREFIXES[old]}"):
        normalise_phone(old + subscriber)
    assert normalise_phone(OLD_PREFIXES[old] + subscriber) == f"84{OLD_PREFIXES[old][1:]}{subscriber}"


# --------------------------------------------------------------------------- templates


def test_every_message_kind_passes_the_start_up_check_with_its_zns_template():
    validate()
    validate(TEMPLATE_IDS)
    validate({"vi": VIETNAMESE_IDS})  # English templates are optional: English readers then go by SMS
    assert set(TEMPLATES) == set(MessageKind)


def test_every_message_kind_is_written_in_vietnamese_and_in_english():
    vietnamese, english = templates_in("vi"), templates_in("en")
    for kind in MessageKind:
        assert has_vietnamese(vietnamese[kind].short) and not has_vietnamese(english[kind].short), kind
        assert _slots(vietnamese[kind].short) == _slots(english[kind].short), kind
        if english[kind].by_zns:
            assert has_vietnamese(vietnamese[kind].zns_text + vietnamese[kind].zns_button), kind
            assert not has_vietnamese(english[kind].zns_text + english[kind].zns_button), kind
    assert (
        english[MessageKind.REQUEST]
        .sms_text({**REQUEST_VALUES, "ask": "allow a copy of"})
        .startswith(
            "Cong an phuong Hoan Kiem asks you to allow a copy of camera footage 20:00 01/03/2025-21:00 01/03/2025"
        )
    )
    registered = registered_sms_templates()
    assert len(registered) == 2 * len(MessageKind) and len(set(registered)) == len(registered)


def test_the_start_up_check_wants_every_english_zns_template_or_none():
    with pytest.raises(TemplateError) as refused:
        validate({"vi": VIETNAMESE_IDS, "en": {**ENGLISH_IDS, MessageKind.RENEWAL: ""}})
    assert str(refused.value) == "commitment.renewal: no ZNS template id (CHANNEL_ZNS_TEMPLATE_RENEWAL_EN)"


def test_the_escalation_goes_by_sms_only_so_the_start_up_check_wants_no_zns_template_for_it():
    escalation = TEMPLATES[MessageKind.ESCALATION]
    assert not escalation.by_zns and escalation.zns_text is None
    assert [kind for kind in MessageKind if TEMPLATES[kind].by_zns] == [
        MessageKind.REQUEST,
        MessageKind.REMINDER,
        MessageKind.RENEWAL,
        MessageKind.INVITATION,
    ]
    validate(TEMPLATE_IDS)
    with pytest.raises(TemplateError, match="assignment.escalation is not sent by ZNS"):
        escalation.zns_data({"assignment_id": "1", "case_ref": "X", "owner_name": "A", "deadline": "D", "link": "L"})


def test_the_start_up_check_names_a_kind_without_its_zns_template_id():
    with pytest.raises(
        TemplateError, match=r"commitment\.renewal: no ZNS template id \(CHANNEL_ZNS_TEMPLATE_RENEWAL\)"
    ):
        validate({**TEMPLATE_IDS, "vi": {**VIETNAMESE_IDS, MessageKind.RENEWAL: ""}})


def test_a_name_longer_than_zns_allows_is_refused_at_start_up():
    request = TEMPLATES[MessageKind.REQUEST]
    too_long = tuple(
        dataclasses.replace(param, plausible="N" * 31) if param.name == "owner_name" else param
        for param in request.params
    )
    templates = {**TEMPLATES, MessageKind.REQUEST: dataclasses.replace(request, params=too_long)}
    with pytest.raises(TemplateError) as refused:
        validate(templates=templates.values())
    assert str(refused.value) == "; ".join(
        f"assignment.request ({language}): owner_name may have 31 characters; ZNS allows 30 for a Tên khách hàng"
        for language in ("vi", "en")
    )


def test_the_start_up_check_refuses_a_link_in_zns_content_and_an_sms_longer_than_stated():
    renewal = TEMPLATES[MessageKind.RENEWAL]
    broken = dataclasses.replace(
        renewal,
        zns_text=renewal.zns_text + " %(link)s",
        params=(*renewal.params, Param("note", ParamType.CUSTOM_LABEL, "x")),
        short=renewal.short + " %(missing)s",
    )
    with pytest.raises(TemplateError) as refused:
        validate(templates=[*(t for t in TEMPLATES.values() if t.kind != MessageKind.RENEWAL), broken])
    assert "short text uses undeclared missing" in str(refused.value)
    assert "ZNS content may not hold a link" in str(refused.value)
    longer = dataclasses.replace(renewal, sms_parts=1)
    with pytest.raises(TemplateError, match="the SMS takes 2 parts, more than the 1 stated"):
        validate(templates=[*(t for t in TEMPLATES.values() if t.kind != MessageKind.RENEWAL), longer])


def test_zns_data_shortens_a_long_name_and_refuses_a_long_case_number():
    request = TEMPLATES[MessageKind.REQUEST]
    data = request.zns_data({**REQUEST_VALUES, "owner_name": "Cửa hàng điện máy và điện lạnh Thành Công"})
    assert data["owner_name"] == "Cửa hàng điện máy và điện lạn…"
    assert len(data["owner_name"]) == 30
    with pytest.raises(TemplateError, match="case_ref has 31 characters; ZNS allows 30 for a Mã số"):
        request.zns_data({**REQUEST_VALUES, "case_ref": "C" * 31})
    with pytest.raises(TemplateError, match="no value for deadline"):
        request.zns_data({**REQUEST_VALUES, "deadline": ""})


def test_sms_text_is_the_notification_short_text_without_accents():
    assert templates_in("vi")[MessageKind.REQUEST].sms_text(REQUEST_VALUES) == REQUEST_SMS
    assert strip_accents("Đề nghị ông/bà giữ lại dữ liệu") == "De nghi ong/ba giu lai du lieu"
    assert all(
        strip_accents(template) == template and "%(link)s" in template for template in registered_sms_templates()
    )


def test_sms_parts_count_gsm7_units():
    assert sms_parts("x" * 160) == 1
    assert sms_parts("x" * 161) == 2
    assert sms_parts("x" * 306) == 2
    assert sms_parts("x" * 159 + "€") == 2
    with pytest.raises(TemplateError, match="characters GSM-7 cannot carry"):
        sms_parts("ông")


# --------------------------------------------------------------------------- Zalo ZNS


def zns_settings(simulator, **changes) -> zns.ZnsSettings:
    settings = zns.ZnsSettings(
        app_id=simulator.app_id,
        secret_key=simulator.secret_key,
        oa_secret_key=simulator.oa_secret_key,
        tokens=zns.Tokens(simulator.access_token, simulator.refresh_token),
        template_ids=TEMPLATE_IDS,
        base_url=simulator.url,
        oauth_url=simulator.url,
        timeout_seconds=5,
    )
    return dataclasses.replace(settings, **changes)


class MemoryTokens:
    """A one-process zns.TokenStore: each renewed pair is appended to `stored` (the outbox's own store, over the
    database, is tested in test_delivery_channels.py)."""

    def __init__(self, tokens: zns.Tokens, stored: list) -> None:
        self.tokens, self.stored = tokens, stored

    def current(self) -> zns.Tokens:
        return self.tokens

    def renew(self, refused: zns.Tokens, refresh) -> zns.Tokens:
        self.tokens = refresh(refused.refresh_token)
        self.stored.append(self.tokens)
        return self.tokens


def zns_provider(simulator, stored: list | None = None, **changes) -> zns.ZnsProvider:
    settings = zns_settings(simulator, **changes)
    return zns.ZnsProvider(settings, MemoryTokens(settings.tokens, stored if stored is not None else []))


def test_zns_sends_the_documented_request_and_is_accepted_with_zalos_msg_id(zns_simulator):
    outcome = zns_provider(zns_simulator).send(request_to(key="assignment:7:request:zns"))

    [sent] = zns_simulator.requests_to("/message/template")
    assert sent.method == "POST"
    assert sent.headers["access_token"] == "sim-access-1"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.json() == {
        "phone": PHONE,
        "template_id": "401001",
        "template_data": REQUEST_VALUES,
        "tracking_id": "assignment:7:request:zns",
    }
    [msg_id] = zns_simulator.messages
    assert outcome == Outcome(OutcomeKind.ACCEPTED, provider_message_id=msg_id)
    assert outcome.sent


def test_zns_sends_an_english_readers_message_with_the_english_template(zns_simulator):
    english = dataclasses.replace(request_to(key="assignment:8:request:zns"), language="en")
    zns_provider(zns_simulator).send(english)
    without = zns_provider(zns_simulator, template_ids={"vi": VIETNAMESE_IDS}).send(english)

    [sent] = zns_simulator.requests_to("/message/template")
    assert sent.json()["template_id"] == ENGLISH_IDS[MessageKind.REQUEST]
    assert without == Outcome(
        OutcomeKind.CONFIG_ERROR, detail="no ZNS template id: set CHANNEL_ZNS_TEMPLATE_REQUEST_EN"
    )


@pytest.mark.parametrize(
    ("code", "kind", "detail"),
    [
        (-114, OutcomeKind.REFUSED_FALL_BACK, "the owner is inactive on Zalo, refuses ZNS, or is not on Zalo"),
        (-118, OutcomeKind.REFUSED_FALL_BACK, "no Zalo account for this phone"),
        (-119, OutcomeKind.REFUSED_FALL_BACK, "this Zalo account cannot receive ZNS"),
        (-133, OutcomeKind.REFUSED_FALL_BACK, "Zalo does not send this ZNS at night"),
        (-131, OutcomeKind.CONFIG_ERROR, "the ZNS template is not approved"),
        (-112, OutcomeKind.CONFIG_ERROR, "the template data does not match the template"),
        (-115, OutcomeKind.CONFIG_ERROR, "out of ZNS quota"),
        (-100, OutcomeKind.TRANSIENT, "unknown error at Zalo"),
        (-999, OutcomeKind.CONFIG_ERROR, "simulated error -999"),
    ],
)
def test_each_zns_error_code_has_its_outcome(zns_simulator, code, kind, detail):
    zns_simulator.phone_errors[PHONE] = code

    outcome = zns_provider(zns_simulator).send(request_to())

    assert outcome.kind == kind
    assert outcome.detail.startswith(f"ZNS error {code}: {detail}")
    assert not outcome.sent


def test_an_expired_access_token_is_refreshed_once_stored_and_the_send_retried(zns_simulator):
    stored = []
    provider = zns_provider(zns_simulator, stored)
    zns_simulator.expire_access_token()

    outcome = provider.send(request_to())

    assert outcome.kind == OutcomeKind.ACCEPTED
    [refresh] = zns_simulator.requests_to("/v4/oa/access_token")
    assert refresh.headers["secret_key"] == zns_simulator.secret_key
    assert refresh.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert refresh.form() == {
        "app_id": zns_simulator.app_id,
        "refresh_token": "sim-refresh-1",
        "grant_type": "refresh_token",
    }
    assert stored == [zns.Tokens("sim-access-2", "sim-refresh-2")]
    assert stored[0].expires_at - datetime.now(UTC) == pytest.approx(timedelta(hours=25), abs=timedelta(minutes=1))
    assert [sent.headers["access_token"] for sent in zns_simulator.requests_to("/message/template")] == [
        "sim-access-1",
        "sim-access-2",
    ]
    with pytest.raises(zns.TokenRefreshFailed, match="error -14014"):
        zns.refresh_tokens(zns_settings(zns_simulator), "sim-refresh-1")


def test_a_refused_refresh_token_is_a_configuration_error_and_nothing_is_stored(zns_simulator):
    stored = []
    provider = zns_provider(zns_simulator, stored)
    provider.store.tokens = zns.Tokens("sim-access-1", "a-spent-refresh-token")
    zns_simulator.expire_access_token()

    outcome = provider.send(request_to())

    assert outcome.kind == OutcomeKind.CONFIG_ERROR
    assert "Zalo refused the refresh token (error -14014" in outcome.detail
    assert stored == []
    assert len(zns_simulator.requests_to("/message/template")) == 1


def test_zns_without_a_template_id_or_with_a_too_long_case_number_sends_nothing(zns_simulator):
    without = zns_provider(zns_simulator, template_ids={"vi": {**VIETNAMESE_IDS, MessageKind.REQUEST: ""}}).send(
        request_to()
    )
    too_long = zns_provider(zns_simulator).send(request_to(case_ref="C" * 31))

    assert without == Outcome(OutcomeKind.CONFIG_ERROR, detail="no ZNS template id: set CHANNEL_ZNS_TEMPLATE_REQUEST")
    assert too_long.kind == OutcomeKind.REFUSED_FALL_BACK
    assert too_long.detail == "cannot go by ZNS: case_ref has 31 characters; ZNS allows 30 for a Mã số"
    assert zns_simulator.received == []


def test_zalo_down_or_unreachable_is_transient(zns_simulator):
    zns_simulator.fail_with_status = 503
    assert zns_provider(zns_simulator).send(request_to()) == Outcome(
        OutcomeKind.TRANSIENT, detail="the provider answered HTTP 503"
    )
    zns_simulator.fail_with_status = None
    provider = zns_provider(zns_simulator)
    zns_simulator.close()
    outcome = provider.send(request_to())
    assert outcome.kind == OutcomeKind.TRANSIENT
    assert outcome.detail.startswith("no answer from the provider")


def test_a_signed_zns_delivery_event_is_a_receipt_for_our_key(zns_simulator, receipt_catcher):
    provider = zns_provider(zns_simulator)
    outcome = provider.send(request_to(key="assignment:7:request:zns"))
    delivered_at = datetime(2025, 3, 1, 13, 5, 7, 250000, tzinfo=UTC)
    event = zns_simulator.event(outcome.provider_message_id, int(delivered_at.timestamp() * 1000))

    assert zns_simulator.post_event(receipt_catcher.url + "/receipts/zns", event) == 200

    [arrived] = receipt_catcher.requests_to("/receipts/zns")
    receipt = zns.parse_receipt(provider.settings, arrived.body, arrived.headers["X-ZEvent-Signature"])
    assert receipt.provider == "zns"
    assert receipt.status == ReceiptStatus.DELIVERED
    assert receipt.at == delivered_at
    assert receipt.provider_message_id == outcome.provider_message_id
    assert receipt.idempotency_key == "assignment:7:request:zns"
    assert zns.parse_receipt(provider.settings, event, "mac=" + zns_simulator.sign(event)) == receipt


def test_a_zns_event_with_a_wrong_signature_or_secret_is_refused(zns_simulator):
    settings = zns_settings(zns_simulator)
    zns_provider(zns_simulator).send(request_to())
    [msg_id] = zns_simulator.messages
    event = zns_simulator.event(msg_id, 1740834307000)
    signed = zns_simulator.sign(event)
    forged = event.replace(msg_id.encode(), b"0" * len(msg_id))

    with pytest.raises(zns.BadSignature):
        zns.parse_receipt(settings, forged, signed)
    with pytest.raises(zns.BadSignature):
        zns.parse_receipt(dataclasses.replace(settings, oa_secret_key="another-oa-secret"), event, signed)
    with pytest.raises(zns.BadSignature):
        zns.parse_receipt(settings, b"not json", signed)
    assert not zns.signature_valid(dataclasses.replace(settings, oa_secret_key=""), event, signed)


def test_a_signed_event_that_is_no_zns_delivery_is_no_receipt(zns_simulator):
    settings = zns_settings(zns_simulator)
    chat = b'{"event_name": "user_send_text", "app_id": "1", "message": {"text": "hi"}, "timestamp": "1740834307000"}'
    oa_receipt = b'{"event_name": "user_received_message", "message": {"msg_id": "m1"}, "timestamp": "1740834307000"}'

    assert zns.parse_receipt(settings, chat, zns_simulator.sign(chat)) is None
    assert zns.parse_receipt(settings, oa_receipt, zns_simulator.sign(oa_receipt)) is None


def test_zns_settings_come_from_the_environment_with_zalos_real_endpoints():
    settings = zns.ZnsSettings.from_env(
        {
            "CHANNEL_ZNS_APP_ID": "42",
            "CHANNEL_ZNS_SECRET_KEY": "app-secret",
            "CHANNEL_ZNS_OA_SECRET_KEY": "oa-secret",
            "CHANNEL_ZNS_ACCESS_TOKEN": "access",
            "CHANNEL_ZNS_REFRESH_TOKEN": "refresh",
            "CHANNEL_ZNS_TEMPLATE_REQUEST": "401001",
            "CHANNEL_TIMEOUT_SECONDS": "4",
        }
    )
    assert settings.base_url == "https://business.openapi.zalo.me"
    assert settings.oauth_url == "https://oauth.zaloapp.com"
    assert settings.tokens == zns.Tokens("access", "refresh")
    assert settings.template_ids["vi"][MessageKind.REQUEST] == "401001"
    assert settings.template_ids["vi"][MessageKind.RENEWAL] == ""
    assert settings.template_ids["en"][MessageKind.REQUEST] == ""
    assert MessageKind.ESCALATION not in settings.template_ids["vi"]
    assert settings.timeout_seconds == 4
    assert "app-secret" not in repr(settings) and "refresh" not in repr(settings)


# --------------------------------------------------------------------------- eSMS


def esms_settings(simulator, callback_base_url: str = "https://camera.example.vn/receipts/esms", **changes):
    settings = esms.EsmsSettings(
        api_key=simulator.api_key,
        secret_key=simulator.secret_key,
        brandname=simulator.brandname,
        callback_base_url=callback_base_url,
        callback_secret="sim-callback-secret",
        base_url=simulator.url,
        timeout_seconds=5,
    )
    return dataclasses.replace(settings, **changes)


def esms_send(simulator, settings, outgoing: Outgoing) -> Outcome:
    with_callback = dataclasses.replace(outgoing, callback_url=esms.callback_url(settings, outgoing.idempotency_key))
    return esms.EsmsProvider(settings).send(with_callback)


def test_esms_sends_the_documented_body_and_is_accepted_with_its_smsid(esms_simulator):
    settings = esms_settings(esms_simulator)

    outcome = esms_send(esms_simulator, settings, request_to())

    [sent] = esms_simulator.requests_to(esms_simulator.path)
    token = callback_token("sim-callback-secret", "assignment:7:request:sms")
    assert sent.json() == {
        "ApiKey": "sim-esms-key",
        "SecretKey": "sim-esms-secret",
        "Phone": PHONE,
        "Content": REQUEST_SMS,
        "Brandname": "CAMERA_AN_NINH",
        "SmsType": "2",
        "IsUnicode": "0",
        "RequestId": "assignment:7:request:sms",
        "CallbackUrl": f"https://camera.example.vn/receipts/esms/assignment%3A7%3Arequest%3Asms/{token}",
    }
    [sms_id] = esms_simulator.messages
    assert outcome == Outcome(OutcomeKind.ACCEPTED, provider_message_id=sms_id)


def test_the_same_request_id_twice_counts_as_sent_once(esms_simulator):
    settings = esms_settings(esms_simulator)

    first = esms_send(esms_simulator, settings, request_to())
    again = esms_send(esms_simulator, settings, request_to())

    assert first.kind == OutcomeKind.ACCEPTED
    assert again == Outcome(OutcomeKind.ALREADY_RECEIVED, detail="eSMS already has RequestId assignment:7:request:sms")
    assert again.sent
    assert len(esms_simulator.requests_to(esms_simulator.path)) == 2
    assert len(esms_simulator.messages) == 1


def test_a_text_matching_no_registered_template_is_a_configuration_error(esms_simulator):
    esms_simulator.registered.clear()

    outcome = esms_send(esms_simulator, esms_settings(esms_simulator), request_to())

    assert outcome == Outcome(
        OutcomeKind.CONFIG_ERROR,
        detail="eSMS 146: the text matches no customer-care template registered for the brandname",
    )
    assert esms_simulator.messages == {}


@pytest.mark.parametrize(
    ("code", "kind", "detail"),
    [
        ("103", OutcomeKind.CONFIG_ERROR, "eSMS 103: not enough balance to send: top up the eSMS account"),
        ("177", OutcomeKind.CONFIG_ERROR, "eSMS 177: the brandname is not registered with this phone's network"),
        ("99", OutcomeKind.REFUSED_FALL_BACK, "eSMS 99: eSMS blocks this phone number"),
        ("108", OutcomeKind.REFUSED_FALL_BACK, "eSMS 108: eSMS finds the phone number malformed"),
        ("555", OutcomeKind.CONFIG_ERROR, "eSMS 555: simulated error 555"),
    ],
)
def test_each_esms_code_has_its_outcome(esms_simulator, code, kind, detail):
    esms_simulator.phone_errors[PHONE] = code

    assert esms_send(esms_simulator, esms_settings(esms_simulator), request_to()) == Outcome(kind, detail=detail)


def test_wrong_esms_keys_are_a_configuration_error(esms_simulator):
    outcome = esms_send(esms_simulator, esms_settings(esms_simulator, api_key="wrong"), request_to())

    assert outcome == Outcome(OutcomeKind.CONFIG_ERROR, detail="eSMS 101: wrong ApiKey or SecretKey")


def _esms_callback(settings, catcher):
    [arrived] = catcher.received
    _, receipts, provider, key, token = arrived.path.split("/")
    assert (receipts, provider) == ("receipts", "esms")
    key = unquote(key)
    assert esms.callback_authentic(settings, key, token)
    return arrived, key


def test_the_esms_callback_to_our_secret_url_is_a_delivery_receipt(esms_simulator, receipt_catcher):
    settings = esms_settings(esms_simulator, callback_base_url=receipt_catcher.url + "/receipts/esms")
    outcome = esms_send(esms_simulator, settings, request_to())

    assert esms_simulator.deliver(outcome.provider_message_id) == 200

    arrived, key = _esms_callback(settings, receipt_catcher)
    assert arrived.method == "GET"
    received_at = datetime(2025, 3, 1, 13, 6, tzinfo=UTC)
    receipt = esms.parse_callback(arrived.query, received_at, key)
    assert receipt.provider == "esms"
    assert receipt.status == ReceiptStatus.DELIVERED
    assert receipt.at == received_at
    assert receipt.provider_message_id == outcome.provider_message_id
    assert receipt.idempotency_key == "assignment:7:request:sms"


def test_a_failed_or_pending_esms_callback(esms_simulator, receipt_catcher):
    settings = esms_settings(esms_simulator, callback_base_url=receipt_catcher.url + "/receipts/esms")
    outcome = esms_send(esms_simulator, settings, request_to())
    now = datetime(2025, 3, 1, 13, 6, tzinfo=UTC)

    esms_simulator.deliver(outcome.provider_message_id, delivered=False)
    arrived, key = _esms_callback(settings, receipt_catcher)
    failed = esms.parse_callback(arrived.query, now, key)

    assert failed.status == ReceiptStatus.FAILED
    assert failed.detail == "SendStatus 5, 0 delivered, 1 failed"
    assert esms.parse_callback({**arrived.query, "SendStatus": "4", "SendFailed": "0"}, now, key).status == (
        ReceiptStatus.FAILED
    )
    assert esms.parse_callback({**arrived.query, "SendStatus": "7"}, now, key) is None


def test_a_callback_path_with_a_wrong_or_borrowed_token_is_refused(esms_simulator):
    settings = esms_settings(esms_simulator)
    token = callback_token(settings.callback_secret, "assignment:7:request:sms")

    assert esms.callback_authentic(settings, "assignment:7:request:sms", token)
    assert not esms.callback_authentic(settings, "assignment:8:request:sms", token)
    assert not esms.callback_authentic(settings, "assignment:7:request:sms", token[:-1] + "0")
    assert not esms.callback_authentic(settings, "assignment:7:request:sms", "")
    assert not esms.callback_authentic(dataclasses.replace(settings, callback_secret=""), "k", token)
    assert not callback_token_valid("another-secret", "assignment:7:request:sms", token)
    with pytest.raises(ValueError, match="a callback secret is needed"):
        esms.callback_url(dataclasses.replace(settings, callback_secret=""), "assignment:7:request:sms")


def test_esms_settings_come_from_the_environment():
    settings = esms.EsmsSettings.from_env(
        {
            "CHANNEL_ESMS_API_KEY": "key",
            "CHANNEL_ESMS_SECRET_KEY": "secret",
            "CHANNEL_ESMS_BRANDNAME": "CAMERA_AN_NINH",
            "CHANNEL_ESMS_CALLBACK_BASE_URL": "https://camera.example.vn/receipts/esms/",
            "CHANNEL_ESMS_CALLBACK_SECRET": "cb",
        }
    )
    assert settings.base_url == "https://rest.esms.vn"
    assert settings.sms_type == "2"
    assert esms.callback_url(settings, "k").startswith("https://camera.example.vn/receipts/esms/k/")
    assert "secret" not in repr(settings)


# --------------------------------------------------------------------------- SpeedSMS


def speedsms_settings(simulator, webhook_base_url: str = "https://camera.example.vn/receipts/speedsms", **changes):
    settings = speedsms.SpeedSmsSettings(
        access_token=simulator.access_token,
        sender="CAMERA_AN_NINH",
        webhook_base_url=webhook_base_url,
        webhook_secret="sim-webhook-secret",
        base_url=simulator.url + "/index.php",
        timeout_seconds=5,
    )
    return dataclasses.replace(settings, **changes)


def test_speedsms_sends_the_documented_body_with_basic_auth(speedsms_simulator):
    outcome = speedsms.SpeedSmsProvider(speedsms_settings(speedsms_simulator)).send(request_to())

    [sent] = speedsms_simulator.requests_to("/index.php/sms/send")
    assert sent.headers["Authorization"] == "Basic " + base64.b64encode(b"sim-speedsms-token:x").decode()
    assert sent.json() == {"to": [PHONE], "content": REQUEST_SMS, "sms_type": 3, "sender": "CAMERA_AN_NINH"}
    assert outcome == Outcome(OutcomeKind.ACCEPTED, provider_message_id="100001")


@pytest.mark.parametrize(
    ("code", "kind", "detail"),
    [
        ("105", OutcomeKind.REFUSED_FALL_BACK, "SpeedSMS 105: SpeedSMS finds the phone number invalid"),
        ("300", OutcomeKind.CONFIG_ERROR, "SpeedSMS 300: not enough balance to send: top up the SpeedSMS account"),
        ("500", OutcomeKind.TRANSIENT, "SpeedSMS 500: internal error at SpeedSMS"),
    ],
)
def test_each_speedsms_code_has_its_outcome(speedsms_simulator, code, kind, detail):
    speedsms_simulator.phone_errors[PHONE] = code

    outcome = speedsms.SpeedSmsProvider(speedsms_settings(speedsms_simulator)).send(request_to())

    assert outcome == Outcome(kind, detail=detail)


def test_a_wrong_speedsms_token_is_a_configuration_error(speedsms_simulator):
    outcome = speedsms.SpeedSmsProvider(speedsms_settings(speedsms_simulator, access_token="wrong")).send(request_to())

    assert outcome == Outcome(OutcomeKind.CONFIG_ERROR, detail="the provider refused our credentials (HTTP 401)")


def test_a_speedsms_report_to_the_secret_webhook_is_a_receipt(speedsms_simulator, receipt_catcher):
    settings = speedsms_settings(speedsms_simulator, webhook_base_url=receipt_catcher.url + "/receipts/speedsms")
    outcome = speedsms.SpeedSmsProvider(settings).send(request_to())
    url = speedsms.webhook_url(settings)
    now = datetime(2025, 3, 1, 13, 6, tzinfo=UTC)

    assert speedsms_simulator.report(url, int(outcome.provider_message_id)) == 200
    assert speedsms_simulator.report(url, int(outcome.provider_message_id), status=1) == 200

    delivered, failed = receipt_catcher.received
    token = delivered.path.rsplit("/", 1)[1]
    assert speedsms.webhook_authentic(settings, token)
    assert not speedsms.webhook_authentic(settings, token[::-1])
    assert speedsms.parse_report(delivered.json(), now).status == ReceiptStatus.DELIVERED
    assert speedsms.parse_report(failed.json(), now).status == ReceiptStatus.FAILED
    assert speedsms.parse_report(delivered.json(), now).provider_message_id == outcome.provider_message_id
    assert speedsms.parse_report({"type": "mo", "tranId": 1}, now) is None


def test_both_sms_gateways_answer_the_same_interface(esms_simulator, speedsms_simulator):
    providers: list[Provider] = [
        esms.EsmsProvider(esms_settings(esms_simulator)),
        speedsms.SpeedSmsProvider(speedsms_settings(speedsms_simulator)),
    ]
    renewal = Outgoing(
        idempotency_key="commitment:3:renewal:sms",
        phone=normalise_phone("0912 345 678"),
        kind=MessageKind.RENEWAL,
        parameters={"owner_name": "Trần Thị Bình", "last_day": "31/03/2025", "link": "https://camera.example.vn/o/r"},
    )

    outcomes = [provider.send(renewal) for provider in providers]

    assert [(provider.name, outcome.kind) for provider, outcome in zip(providers, outcomes)] == [
        ("esms", OutcomeKind.ACCEPTED),
        ("speedsms", OutcomeKind.ACCEPTED),
    ]
    text = "Cam ket chia se du lieu Camera an ninh cua ong/ba het hieu luc sau ngay 31/03/2025. Gia han tai: "
    assert esms_simulator.received[0].json()["Content"] == text + "https://camera.example.vn/o/r"
    assert speedsms_simulator.received[0].json()["content"] == text + "https://camera.example.vn/o/r"


# --------------------------------------------------------------------------- quiet hours


def vietnam(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=LOCAL_ZONE)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (vietnam(1, 21, 59), vietnam(1, 21, 59)),
        (vietnam(1, 22, 0), vietnam(2, 7, 0)),
        (vietnam(1, 23, 0), vietnam(2, 7, 0)),
        (vietnam(2, 6, 59), vietnam(2, 7, 0)),
        (vietnam(2, 7, 0), vietnam(2, 7, 0)),
    ],
)
@pytest.mark.parametrize("kind", [MessageKind.REMINDER, MessageKind.RENEWAL])
def test_reminders_and_renewal_invitations_wait_for_seven(kind, now, expected):
    assert earliest_send(now, kind) == expected


def test_an_urgent_request_goes_at_once_at_night_and_a_later_one_waits():
    night = vietnam(1, 23, 0)

    assert earliest_send(night, MessageKind.REQUEST, deadline=night + timedelta(hours=6)) == night
    assert earliest_send(night, MessageKind.REQUEST, deadline=night + timedelta(hours=24)) == night
    assert earliest_send(night, MessageKind.REQUEST, deadline=night + timedelta(days=3)) == vietnam(2, 7, 0)
    assert earliest_send(night, MessageKind.REQUEST) == vietnam(2, 7, 0)
    assert earliest_send(vietnam(2, 2, 0), MessageKind.ESCALATION) == vietnam(2, 2, 0)


def test_quiet_hours_are_vietnam_time_whatever_the_zone_of_now():
    at_22_in_vietnam = datetime(2025, 3, 1, 15, 0, tzinfo=UTC)

    later = earliest_send(at_22_in_vietnam, MessageKind.REMINDER)

    assert later == datetime(2025, 3, 2, 0, 0, tzinfo=UTC)
    assert later.tzinfo is UTC
    assert earliest_send(datetime(2025, 3, 1, 14, 59, tzinfo=UTC), MessageKind.REMINDER).hour == 14
    with pytest.raises(ValueError, match="aware"):
        earliest_send(datetime(2025, 3, 1, 23, 0), MessageKind.REMINDER)
