"""Footage in police hands: officers' own copies through tus, footage received from the stored hash, downloads
(streamed, Range, attachment, audited) and signed evidence packages that `evidence verify` checks."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile

import pytest
from clip_support import MP4_HEAD, TUS, tus_metadata
from owner_support import police_actor, routed_assignment
from sqlalchemy import select

from camera_registry.models import AssignmentStatus, AuditEvent, FootageClip, Handover
from camera_registry.services import requests
from camera_registry.services.evidence import verify_package


@pytest.fixture()
def clip_store(clip_store, app, tmp_path, monkeypatch):
    """The clip store, and a key to sign evidence packages with."""
    monkeypatch.setitem(app.config, "EVIDENCE_SIGNING_KEY", str(tmp_path / "keys" / "evidence.pem"))
    return clip_store


@pytest.fixture()
def consented(session, world):
    """Owner a consented by phone: an officer comes to copy the footage."""
    assignment = routed_assignment(session, world)
    requests.act_on_assignment(session, police_actor(session), assignment.id, "consent", handover=Handover.POLICE_COPY)
    session.commit()
    return assignment


def officer_upload(client, world, assignment, content: bytes, role="police_a", name="bản sao.mp4"):
    base = f"/requests/{assignment.request_id}/assignments/{assignment.id}/uploads"
    created = client.post(
        base,
        headers={
            **TUS,
            **world.headers[role],
            "Upload-Length": str(len(content)),
            "Upload-Metadata": tus_metadata(
                filename=name,
                filetype="video/mp4",
                recorder_time="2026-03-12T07:59:00",
                clock_checked_at="2026-03-12T08:00:00+07:00",
            ),
        },
    )
    if created.status_code != 201:
        return created
    return client.patch(
        created.headers["Location"],
        data=content,
        headers={**TUS, **world.headers[role], "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
    )


def receive(client, world, assignment, **body):
    return client.post(
        f"/api/v1/assignments/{assignment.id}/receive_footage", json=body, headers=world.headers["police_a"]
    )


@pytest.fixture()
def stored_copy(client, session, world, consented, clip_store):
    content = MP4_HEAD + os.urandom(200_000)
    assert officer_upload(client, world, consented, content).status_code == 204
    clip = session.scalar(select(FootageClip).where(FootageClip.assignment_id == consented.id))
    return consented, clip, content


def test_an_officers_copy_goes_through_the_same_intake(session, world, stored_copy):
    assignment, clip, content = stored_copy
    assert clip.sha256 == hashlib.sha256(content).hexdigest() and clip.uploaded_by == "commune_police:police-a"
    assert clip.uploader_user_id is not None and clip.clock_offset_seconds == -60.0
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.CONSENTED  # received only when an officer says so


def test_only_police_of_the_commune_upload_copies(client, world, consented, clip_store):
    content = MP4_HEAD + bytes(1000)
    assert officer_upload(client, world, consented, content, role="police_b").status_code == 404
    assert officer_upload(client, world, consented, content, role="province_staff").status_code == 403
    assert officer_upload(client, world, consented, content, role="anonymous").status_code == 401


def test_footage_received_takes_the_hash_of_the_stored_clip(client, session, world, stored_copy):
    assignment, clip, _ = stored_copy
    typed = receive(
        client, world, assignment, version=assignment.version, evidence_ref="VC-1", evidence_sha256="a" * 64
    )
    assert typed.status_code == 422 and "clip_id" in typed.get_json()["errors"]
    wrong = receive(client, world, assignment, clip_id=clip.id, evidence_sha256="b" * 64)
    assert wrong.status_code == 422 and "evidence_sha256" in wrong.get_json()["errors"]
    received = receive(client, world, assignment, clip_id=clip.id, evidence_ref="VC-117/2026")
    assert received.status_code == 200, received.get_json()
    body = received.get_json()
    assert body["status"] == "footage_received" and body["evidence_sha256"] == clip.sha256
    assert body["evidence_ref"] == "VC-117/2026"


def test_police_download_the_clip_streamed_with_range_and_audited(client, session, world, stored_copy):
    assignment, clip, content = stored_copy
    url = f"/requests/{assignment.request_id}/clips/{clip.id}"
    whole = client.get(url, headers=world.headers["police_a"])
    assert whole.status_code == 200 and whole.is_streamed and whole.data == content
    assert whole.headers["Content-Disposition"].startswith("attachment;")
    assert (
        whole.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in whole.headers["Content-Security-Policy"]
    )
    assert whole.headers["X-Clip-SHA256"] == clip.sha256
    part = client.get(url, headers={**world.headers["police_a"], "Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == content[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(content)}"
    downloads = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "clip.downloaded").order_by(AuditEvent.id)
    ).all()
    assert [event.details["range"] for event in downloads] == [None, "bytes=100-199"]
    assert all(
        event.actor_label == "commune_police:police-a"
        and event.entity_id == str(clip.id)
        and event.details["sha256"] == clip.sha256
        and event.occurred_at
        for event in downloads
    )
    assert client.get(url, headers=world.headers["admin"]).status_code == 200


def test_others_cannot_download(client, world, stored_copy):
    assignment, clip, _ = stored_copy
    url = f"/requests/{assignment.request_id}/clips/{clip.id}"
    assert client.get(url, headers=world.headers["police_b"]).status_code == 404
    assert client.get(url, headers=world.headers["district_staff"]).status_code == 403
    assert (
        client.get(
            f"/requests/{assignment.request_id + 1}/clips/{clip.id}", headers=world.headers["police_a"]
        ).status_code
        == 404
    )


def test_the_request_page_offers_the_download_and_the_package(client, world, stored_copy):
    assignment, clip, _ = stored_copy
    html = client.get(f"/requests/{assignment.request_id}", headers=world.headers["police_a"]).get_data(as_text=True)
    assert f"/requests/{assignment.request_id}/clips/{clip.id}" in html and "evidence.zip" in html
    assert 'name="clip_id"' in html and 'name="evidence_sha256"' not in html  # no typed hash on the page
    assert "chậm 0:01:00" in html  # the recorder's clock offset beside the clip
    staff = client.get(f"/requests/{assignment.request_id}", headers=world.headers["district_staff"])
    assert f"/clips/{clip.id}" not in staff.get_data(as_text=True)


def package_of(client, world, assignment, tmp_path, per_assignment=False):
    url = (
        f"/requests/{assignment.request_id}/assignments/{assignment.id}/evidence.zip"
        if per_assignment
        else f"/requests/{assignment.request_id}/evidence.zip"
    )
    response = client.get(url, headers=world.headers["police_a"])
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Content-Disposition"].startswith("attachment;")
    path = tmp_path / ("assignment.zip" if per_assignment else "request.zip")
    path.write_bytes(response.data)
    return path


def test_the_evidence_package_holds_the_original_and_verifies(app, client, session, world, stored_copy, tmp_path):
    assignment, clip, content = stored_copy
    receive(client, world, assignment, clip_id=clip.id, evidence_ref="VC-1")
    path = package_of(client, world, assignment, tmp_path)
    with zipfile.ZipFile(path) as archive:
        member = f"clips/{clip.id}-bản sao.mp4"
        assert archive.getinfo(member).compress_type == zipfile.ZIP_STORED and archive.read(member) == content
        manifest = json.loads(archive.read("manifest.json"))
        custody = json.loads(archive.read("custody_log.json"))
    assert manifest["request"]["case_number"] == "VV-2026-042" and manifest["request"]["legal_basis"]
    [entry] = manifest["assignments"]
    assert entry["lenses"][0]["fov_deg"] == 90.0 and entry["answer"]["status"] == "footage_received"
    assert entry["answer"]["commitments"][0]["text_version"] == "2024.1"
    [clip_entry] = entry["clips"]
    assert clip_entry["sha256"] == clip.sha256 and clip_entry["recorder_clock"]["offset_seconds"] == -60.0
    assert clip_entry["uploaded_by"] == "commune_police:police-a" and clip_entry["size_bytes"] == len(content)
    actions = [event["action"] for event in custody]
    assert "request.create" in actions and "clip.upload_finished" in actions
    key = tmp_path / "keys" / "evidence.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    public = client.get("/requests/evidence-key.pem", headers=world.headers["police_a"]).data
    assert verify_package(path, public).ok
    assert session.scalars(select(AuditEvent.action).where(AuditEvent.action == "evidence.package_created")).all()
    assert verify_package(package_of(client, world, assignment, tmp_path, per_assignment=True), public).ok


def flip_byte_in(path, needle: bytes, out):
    data = bytearray(path.read_bytes())
    at = data.index(needle) + len(needle) // 2
    data[at] ^= 0x01
    out.write_bytes(bytes(data))
    return out


def test_one_changed_byte_fails_verification(client, world, stored_copy, tmp_path):
    assignment, clip, content = stored_copy
    path = package_of(client, world, assignment, tmp_path)
    public = client.get("/requests/evidence-key.pem", headers=world.headers["police_a"]).data
    changed = verify_package(flip_byte_in(path, content[5000:5100], tmp_path / "changed.zip"), public)
    assert not changed.ok and any(f"clips/{clip.id}-" in problem for problem in changed.problems)
    assert verify_package(path).ok and not verify_package(path).key_pinned  # the key inside: integrity only
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    stranger = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    forged = verify_package(path, stranger)
    assert not forged.ok and any("signature" in problem for problem in forged.problems)


def test_the_verify_command_says_plainly_what_does_not_match(app, client, world, stored_copy, tmp_path):
    assignment, clip, content = stored_copy
    path = package_of(client, world, assignment, tmp_path)
    key = tmp_path / "key.pem"
    key.write_bytes(client.get("/requests/evidence-key.pem", headers=world.headers["police_a"]).data)
    runner = app.test_cli_runner()
    ok = runner.invoke(args=["evidence", "verify", str(path), "--public-key", str(key)])
    assert ok.exit_code == 0 and "every hash and the signature match" in ok.output, ok.output
    unpinned = runner.invoke(args=["evidence", "verify", str(path)])
    assert unpinned.exit_code == 0 and "no --public-key given" in unpinned.output
    changed = flip_byte_in(path, content[9000:9100], tmp_path / "changed.zip")
    bad = runner.invoke(args=["evidence", "verify", str(changed), "--public-key", str(key)])
    assert bad.exit_code == 1 and f"MISMATCH: clips/{clip.id}-" in bad.output, bad.output


def test_retention_deletes_the_files_and_keeps_the_record(app, client, session, world, stored_copy, tmp_path):
    from datetime import timedelta

    from camera_registry.services.clips import ClipSettings
    from camera_registry.services.evidence import apply_retention

    assignment, clip, content = stored_copy
    requests.cancel_request(session, police_actor(session), assignment.request_id, note="solved otherwise")
    session.commit()
    session.refresh(assignment.request)
    closed = assignment.request.closed_at
    settings = ClipSettings.from_config({**app.config, "INSTANCE_PATH": app.instance_path, "CLIP_RETENTION_DAYS": 30})
    factory = app.extensions["session_factory"]
    assert apply_retention(factory, settings, closed + timedelta(days=29)) == {}
    assert (settings.storage_dir / clip.stored_path).is_file()
    assert apply_retention(factory, settings, closed + timedelta(days=31)) == {"clips_deleted": 1}
    assert not (settings.storage_dir / clip.stored_path).exists()
    session.refresh(clip)
    assert clip.deleted_at is not None and clip.sha256 == hashlib.sha256(content).hexdigest()  # the record stays
    deleted = session.scalar(select(AuditEvent).where(AuditEvent.action == "clip.deleted"))
    assert deleted.entity_id == str(clip.id) and deleted.details["sha256"] == clip.sha256
    assert apply_retention(factory, settings, closed + timedelta(days=40)) == {}  # nothing twice
    url = f"/requests/{assignment.request_id}/clips/{clip.id}"
    assert client.get(url, headers=world.headers["police_a"]).status_code == 404
    path = package_of(client, world, assignment, tmp_path)  # the manifest and the custody log remain
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read("manifest.json"))
        assert not [name for name in archive.namelist() if name.startswith("clips/")]
    assert manifest["assignments"][0]["clips"][0]["deleted_at"] and verify_package(path).ok
    html = client.get(f"/requests/{assignment.request_id}", headers=world.headers["police_a"]).get_data(as_text=True)
    assert "đã xoá theo thời hạn lưu trữ" in html


def test_admins_see_the_storage_used_per_commune(client, world, stored_copy):
    _, clip, content = stored_copy
    response = client.get("/api/v1/clip-storage", headers=world.headers["admin"])
    assert response.status_code == 200
    [line] = response.get_json()
    assert line == {
        "commune_code": "A",
        "commune_name": "Xã A",
        "clips": 1,
        "clip_bytes": len(content),
        "partial_uploads": 0,
        "partial_bytes": 0,
    }
    assert client.get("/api/v1/clip-storage", headers=world.headers["police_a"]).status_code == 403
