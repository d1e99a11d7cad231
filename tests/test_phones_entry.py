"""Phones are stored as 84XXXXXXXXX whichever way they enter (a register, the API, the sample loader, a commune's
duty phone), refused with the reason when they are not a Vietnamese mobile number, shown as people read them,
and those stored before are normalised by `camera-registry owners normalise-phones`."""

from __future__ import annotations

import csv
import io
import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from camera_registry.models import AdminLevel, AdminUnit, AuditEvent, Owner, OwnerKind
from camera_registry.services.access import SYSTEM
from camera_registry.services.admin_units import create_admin_unit, update_admin_unit
from camera_registry.services.channels.phones import readable_phone
from camera_registry.services.errors import ValidationFailed
from camera_registry.services.imports import import_register
from camera_registry.services.imports.cells import REQUIRED_COLUMNS
from camera_registry.services.owners import normalise_stored_phones
from camera_registry.services.sample import BUNDLED_SAMPLE, DatasetError, load_dataset

STORED = "84987654321"
LANDLINE = "024 3825 1234"
LANDLINE_REASON = "not a Vietnamese mobile number: landline prefix 024"
OLD_PREFIX = "0168 123 4567"
OLD_PREFIX_REASON = "old 11-digit prefix 0168 became 038"


def register(*phones: str) -> io.BytesIO:
    """A register of commune A with one new owner, recorder and lens per phone."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=REQUIRED_COLUMNS)
    writer.writeheader()
    for n, phone in enumerate(phones, start=1):
        writer.writerow(
            dict.fromkeys(REQUIRED_COLUMNS, "")
            | {
                "commune_code": "A",
                "site_code": "site-a",
                "owner_external_id": f"owner-phone-{n}",
                "owner_kind": "household",
                "owner_name": f"Hộ {n}",
                "owner_phone": phone,
                "recorder_external_id": f"rec-phone-{n}",
                "retention_days": "14",
                "lens_external_id": f"lens-phone-{n}",
                "lon": f"105.83{n}",
                "lat": "21.02",
                "fov_deg": "90",
                "range_m": "30",
                "status": "active",
            }
        )
    return io.BytesIO(text.getvalue().encode())


def owner_count(session) -> int:
    return session.scalar(select(func.count(Owner.id)))


# --------------------------------------------------------------------------- the register import


def test_an_imported_phone_is_stored_normalised_however_it_was_written(session, world):
    report = import_register(
        session, register("0987 654 321", "+84 987654321", "84987654321"), "register.csv", actor=SYSTEM
    )
    assert report.ok, report.errors
    stored = session.scalars(select(Owner.phone).where(Owner.external_id.like("owner-phone-%"))).all()
    assert stored == [STORED] * 3


@pytest.mark.parametrize(("phone", "reason"), [(LANDLINE, LANDLINE_REASON), (OLD_PREFIX, OLD_PREFIX_REASON)])
def test_an_imported_phone_that_is_not_a_mobile_refuses_the_file(session, world, phone, reason):
    before = owner_count(session)
    report = import_register(session, register("0987 654 321", phone), "register.csv", actor=SYSTEM)
    assert not report.ok
    assert [str(error) for error in report.errors] == [f"row 3, column owner_phone: {phone!r}: {reason}"]
    assert owner_count(session) == before  # the good row is not written either


# --------------------------------------------------------------------------- owners through the API


def new_owner(phone: str) -> dict:
    return {"external_id": "O-phone", "kind": "household", "name": "Hộ mới", "commune_code": "A", "phone": phone}


# The API's schema once had its own pattern, which refused the first two forms the import takes.
@pytest.mark.parametrize("typed", ["84987654321", "(098) 765-4321", "+84 987 654 321"])
def test_an_owner_created_through_the_api_gets_the_normalised_phone(client, session, world, typed):
    response = client.post("/api/v1/owners", json=new_owner(typed), headers=world.headers["police_a"])
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["phone"] == STORED
    assert session.scalar(select(Owner.phone).where(Owner.external_id == "O-phone")) == STORED


@pytest.mark.parametrize(("phone", "reason"), [(LANDLINE, LANDLINE_REASON), (OLD_PREFIX, OLD_PREFIX_REASON)])
def test_an_owner_with_a_phone_that_is_not_a_mobile_is_refused_and_not_written(client, session, world, phone, reason):
    before = owner_count(session)
    response = client.post("/api/v1/owners", json=new_owner(phone), headers=world.headers["police_a"])
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"phone": [reason]}
    assert owner_count(session) == before


def test_an_owner_update_normalises_the_phone_or_refuses_it(client, session, world):
    owner_id = world.objects["a"]["owner"]
    path, headers = f"/api/v1/owners/{owner_id}", world.headers["police_a"]
    refused = client.patch(path, json={"phone": LANDLINE}, headers=headers)
    assert refused.status_code == 422
    assert refused.get_json()["errors"] == {"phone": [LANDLINE_REASON]}
    session.expire_all()
    assert (session.get(Owner, owner_id).phone, session.get(Owner, owner_id).version) == ("0912345678", 1)

    changed = client.patch(path, json={"phone": "0987 654 321"}, headers=headers)
    assert changed.status_code == 200, changed.get_json()
    session.expire_all()
    assert session.get(Owner, owner_id).phone == STORED


# --------------------------------------------------------------------------- a commune's police duty phone


def test_a_communes_duty_phone_must_be_a_mobile_and_is_stored_normalised(session, world):
    with pytest.raises(ValidationFailed) as refused:
        create_admin_unit(
            session, SYSTEM, code="C", name="Xã C", level=AdminLevel.COMMUNE, parent_code="P", police_phone=LANDLINE
        )
    assert refused.value.errors == {"police_phone": [LANDLINE_REASON]}
    assert session.scalar(select(AdminUnit).where(AdminUnit.code == "C")) is None

    unit = create_admin_unit(
        session, SYSTEM, code="C", name="Xã C", level=AdminLevel.COMMUNE, parent_code="P", police_phone="0987654321"
    )
    assert unit.police_phone == STORED
    with pytest.raises(ValidationFailed) as refused:
        update_admin_unit(session, SYSTEM, "C", {"police_phone": OLD_PREFIX})
    assert refused.value.errors == {"police_phone": [OLD_PREFIX_REASON]}
    assert update_admin_unit(session, SYSTEM, "C", {"police_phone": None})[0].police_phone is None


# --------------------------------------------------------------------------- the sample data


def test_the_bundled_sample_loads_its_phones_normalised(session):
    load_dataset(session)
    phones = [
        *session.scalars(select(Owner.phone)),
        *session.scalars(select(AdminUnit.police_phone).where(AdminUnit.police_phone.is_not(None))),
    ]
    assert len(phones) > 258 and all(re.fullmatch(r"84\d{9}", phone) for phone in phones)


def test_a_dataset_with_a_landline_owner_is_refused(session, tmp_path):
    dataset = shutil.copytree(BUNDLED_SAMPLE, tmp_path / "dataset")
    owners = (dataset / "owners.csv").read_text(encoding="utf-8").splitlines()
    first = owners[1].split(",")
    first[3] = LANDLINE
    (dataset / "owners.csv").write_text("\n".join([owners[0], ",".join(first), *owners[2:]]), encoding="utf-8")
    with pytest.raises(DatasetError, match=f"owners.csv: {first[0]}: phone '{LANDLINE}': {LANDLINE_REASON}"):
        load_dataset(session, dataset)


# --------------------------------------------------------------------------- where people read them


def test_phones_are_shown_as_people_read_them():
    assert readable_phone(STORED) == "0987 654 321"
    assert readable_phone("+84 987654321") == "0987 654 321"
    assert readable_phone(LANDLINE) == LANDLINE  # stored as typed before entry checked it: shown as typed


def test_the_request_page_shows_the_owners_phone_readably(client, session, world):
    session.get(Owner, world.objects["a"]["owner"]).phone = "84912345678"
    session.commit()
    now = datetime.now(UTC)
    opened = client.post(
        "/api/v1/footage-requests",
        json={
            "case_ref": "VV-PHONE",
            "reason": "Trộm xe máy",
            "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
            "incident": {"type": "Point", "coordinates": [105.8202, 21.02]},  # in front of lens-a
            "window_start": (now - timedelta(hours=3)).isoformat(),
            "window_end": (now - timedelta(hours=2)).isoformat(),
        },
        headers=world.headers["police_a"],
    )
    assert opened.status_code == 201, opened.get_json()
    page = client.get(f"/requests/{opened.get_json()['id']}", headers=world.headers["police_a"])
    assert '<a href="tel:0912345678">0912 345 678</a>' in page.get_data(as_text=True)


# --------------------------------------------------------------------------- phones stored before


@pytest.fixture()
def typed_phones(session, world) -> dict[str, int]:
    """Owners whose phones were stored as typed: world's two 0912345678, one written with brackets, one landline."""
    typed = {
        tag: Owner(external_id=f"owner-{tag}", kind=OwnerKind.HOUSEHOLD, name=tag, commune=world.commune_a, phone=phone)
        for tag, phone in (("brackets", "(098) 765-4321"), ("landline", LANDLINE))
    }
    session.add_all(typed.values())
    session.commit()
    return {"a": world.objects["a"]["owner"], "b": world.objects["b"]["owner"]} | {
        tag: owner.id for tag, owner in typed.items()
    }


def stored(session, owners: dict[str, int]) -> dict[str, str]:
    session.expire_all()
    return {tag: session.get(Owner, owner_id).phone for tag, owner_id in owners.items()}


def normalisable(owners: dict[str, int]) -> list[int]:
    return sorted(owner_id for tag, owner_id in owners.items() if tag != "landline")


def test_normalise_phones_rewrites_those_it_can_and_names_the_others(app, session, typed_phones):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["owners", "normalise-phones"])
    assert result.exit_code == 1, result.output
    assert "3 owners' phones normalised" in result.output
    assert re.search(rf"^{typed_phones['landline']}\s+{LANDLINE_REASON}$", result.output, re.MULTILINE)
    assert stored(session, typed_phones) == {
        "a": "84912345678",
        "b": "84912345678",
        "brackets": STORED,
        "landline": LANDLINE,
    }
    audited = session.scalar(select(AuditEvent).where(AuditEvent.action == "owner.phones_normalised"))
    assert sorted(audited.details["owner_ids"]) == sorted(
        [typed_phones["a"], typed_phones["b"], typed_phones["brackets"]]
    )

    session.get(Owner, typed_phones["landline"]).phone = "0912 000 111"
    session.commit()
    again = runner.invoke(args=["owners", "normalise-phones"])
    assert again.exit_code == 0, again.output
    assert "1 owners' phones normalised" in again.output
    assert stored(session, typed_phones)["landline"] == "84912000111"


def test_normalise_phones_goes_batch_by_batch(app, session, typed_phones):
    found = normalise_stored_phones(app.extensions["session_factory"], SYSTEM, batch_size=1)
    assert sorted(found.normalised) == normalisable(typed_phones)
    assert found.refused == {typed_phones["landline"]: LANDLINE_REASON}
    batches = session.scalar(select(func.count()).where(AuditEvent.action == "owner.phones_normalised"))
    assert batches == 3
    assert set(stored(session, typed_phones).values()) == {"84912345678", STORED, LANDLINE}
