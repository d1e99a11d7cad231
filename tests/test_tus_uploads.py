"""The tus 1.0 endpoints on an owner's link: core, creation, termination, expiration, and the cleanup job."""

from __future__ import annotations

import hashlib
import io
import os
from datetime import timedelta

import pytest
from clip_support import MP4_HEAD, TUS, stored_files, tus_metadata
from owner_support import consent_to_upload
from sqlalchemy import select

from camera_registry.models import AssignmentStatus, AuditEvent, ClipUpload, FootageClip, UploadState
from camera_registry.services.clips import ClipSettings
from camera_registry.services.uploads import clean_abandoned_uploads

CLOCK = {"recorder_time": "2026-03-12T08:00:30", "clock_checked_at": "2026-03-12T08:00:00+07:00"}


def create(client, token, length, filename="cổng.mp4", filetype="video/mp4", **clock):
    return client.post(
        f"/o/{token}/uploads",
        headers={
            **TUS,
            "Upload-Length": str(length),
            "Upload-Metadata": tus_metadata(filename=filename, filetype=filetype, **(clock or CLOCK)),
        },
    )


def patch(client, location, offset, body: bytes, **headers):
    return client.patch(
        location,
        data=body,
        headers={**TUS, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers},
    )


@pytest.fixture()
def uploading(client, owner_link):
    assignment, token = owner_link
    consent_to_upload(client, token)
    return assignment, token


def test_options_names_the_version_extensions_and_largest_upload(app, client, uploading):
    _, token = uploading
    response = client.options(f"/o/{token}/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) == {"creation", "termination", "expiration"}
    assert int(response.headers["Tus-Max-Size"]) == app.config["CLIP_MAX_BYTES"]


def test_an_upload_in_two_patches_becomes_the_footage(client, session, uploading, clip_store):
    assignment, token = uploading
    content = MP4_HEAD + os.urandom(300_000)
    created = create(client, token, len(content))
    assert created.status_code == 201 and created.headers["Tus-Resumable"] == "1.0.0"
    location = created.headers["Location"]
    assert location.startswith(f"/o/{token}/uploads/") and "Upload-Expires" in created.headers
    head = client.head(location, headers=TUS)
    assert head.status_code == 200 and head.headers["Upload-Offset"] == "0"
    assert head.headers["Upload-Length"] == str(len(content)) and head.headers["Cache-Control"] == "no-store"
    first = patch(client, location, 0, content[:100_000])
    assert first.status_code == 204 and first.headers["Upload-Offset"] == "100000" and "Upload-Expires" in first.headers
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "100000"
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.CONSENTED
    last = patch(client, location, 100_000, content[100_000:])
    assert last.status_code == 204 and last.headers["Upload-Offset"] == str(len(content))
    clip = session.scalar(select(FootageClip).where(FootageClip.assignment_id == assignment.id))
    assert clip.sha256 == hashlib.sha256(content).hexdigest() and clip.size_bytes == len(content)
    assert (clip_store / clip.stored_path).read_bytes() == content
    assert stored_files(clip_store) == [clip_store / clip.stored_path]  # the partial file was moved, not copied
    assert clip.original_name == "cổng.mp4" and clip.uploaded_by == f"owner:{assignment.owner_id}"
    assert clip.clock_offset_seconds == 30.0 and clip.upload_started_at is not None
    session.refresh(assignment)
    assert assignment.status == AssignmentStatus.FOOTAGE_RECEIVED
    assert (assignment.evidence_ref, assignment.evidence_sha256) == (f"clip:{clip.id}", clip.sha256)
    actions = list(
        session.scalars(select(AuditEvent.action).where(AuditEvent.action.startswith("clip.")).order_by(AuditEvent.id))
    )
    assert actions == ["clip.upload_started", "clip.upload_finished"]


def test_a_wrong_offset_gets_409_with_the_offset_kept(client, uploading, clip_store):
    _, token = uploading
    location = create(client, token, 1000).headers["Location"]
    assert patch(client, location, 0, MP4_HEAD + bytes(76)).status_code == 204
    stale = patch(client, location, 0, MP4_HEAD + bytes(76))
    assert stale.status_code == 409 and stale.headers["Upload-Offset"] == "100"
    ahead = patch(client, location, 500, bytes(100))
    assert ahead.status_code == 409
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "100"


def test_too_large_gets_413_at_creation_and_while_streaming(app, client, session, uploading, clip_store, monkeypatch):
    _, token = uploading
    monkeypatch.setitem(app.config, "CLIP_MAX_BYTES", 1024 * 1024)
    assert create(client, token, 1024 * 1024 + 1).status_code == 413
    location = create(client, token, 1000).headers["Location"]
    beyond = patch(client, location, 0, MP4_HEAD + bytes(2000))
    assert beyond.status_code == 413  # refused before a byte is written: the upload stays at 0
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "0"
    assert [path.stat().st_size for path in stored_files(clip_store)] == [0]


def test_wrong_types_get_415(client, session, uploading, clip_store):
    _, token = uploading
    assert create(client, token, 1000, filename="setup.exe", filetype="application/octet-stream").status_code == 415
    assert create(client, token, 1000, filename="clip.mp4", filetype="application/pdf").status_code == 415
    location = create(client, token, 1000).headers["Location"]
    not_octets = client.patch(
        location, data=MP4_HEAD, headers={**TUS, "Upload-Offset": "0", "Content-Type": "video/mp4"}
    )
    assert not_octets.status_code == 415
    program = patch(client, location, 0, b"MZ\x90\x00" + bytes(996))
    assert program.status_code == 415
    assert stored_files(clip_store) == []  # the refused upload's partial file is gone
    upload = session.scalar(select(ClipUpload).where(ClipUpload.id == location.rsplit("/", 1)[1]))
    assert upload.state == UploadState.REFUSED and upload.refusal == "type"
    assert client.head(location, headers=TUS).status_code == 410


def test_the_content_is_checked_when_its_first_bytes_arrive_in_pieces(client, uploading, clip_store):
    _, token = uploading
    location = create(client, token, 1000).headers["Location"]
    assert patch(client, location, 0, b"MZ\x90").status_code == 204  # too few bytes to judge yet
    assert patch(client, location, 3, bytes(97)).status_code == 415


def test_termination_deletes_the_partial_file(client, session, uploading, clip_store):
    _, token = uploading
    location = create(client, token, 1000).headers["Location"]
    patch(client, location, 0, MP4_HEAD + bytes(76))
    assert len(stored_files(clip_store)) == 1
    deleted = client.delete(location, headers=TUS)
    assert deleted.status_code == 204 and stored_files(clip_store) == []
    assert client.head(location, headers=TUS).status_code == 410
    assert patch(client, location, 100, bytes(10)).status_code == 410
    assert "clip.upload_terminated" in session.scalars(select(AuditEvent.action)).all()


def test_expired_uploads_are_gone_and_the_cleanup_job_removes_them(app, client, session, uploading, clip_store):
    _, token = uploading
    location = create(client, token, 1000).headers["Location"]
    patch(client, location, 0, MP4_HEAD + bytes(76))
    upload = session.get(ClipUpload, location.rsplit("/", 1)[1])
    settings = ClipSettings.from_config({**app.config, "INSTANCE_PATH": app.instance_path})
    assert upload.expires_at - upload.updated_at == settings.upload_expiry == timedelta(hours=24)  # since the last byte
    later = upload.expires_at + timedelta(seconds=1)
    factory = app.extensions["session_factory"]
    assert clean_abandoned_uploads(factory, settings, upload.expires_at - timedelta(seconds=1)) == {}
    assert len(stored_files(clip_store)) == 1
    assert clean_abandoned_uploads(factory, settings, later) == {"uploads_expired": 1}
    assert stored_files(clip_store) == []
    session.refresh(upload)
    assert upload.state == UploadState.EXPIRED
    assert client.head(location, headers=TUS).status_code == 410
    assert clean_abandoned_uploads(factory, settings, later) == {}  # nothing twice


def test_an_interrupted_patch_keeps_what_arrived(client, session, uploading, clip_store):
    _, token = uploading
    content = MP4_HEAD + os.urandom(50_000)
    location = create(client, token, len(content)).headers["Location"]
    # The client declares the whole body but goes away after 20,000 bytes.
    broken = client.patch(
        location,
        input_stream=io.BytesIO(content[:20_000]),
        headers={**TUS, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"},
        environ_overrides={"CONTENT_LENGTH": str(len(content))},
    )
    assert broken.status_code == 400
    assert client.head(location, headers=TUS).headers["Upload-Offset"] == "20000"
    assert patch(client, location, 20_000, content[20_000:]).status_code == 204
    clip = session.scalar(select(FootageClip))
    assert clip.sha256 == hashlib.sha256(content).hexdigest()  # hashed back from disk after the resume


def test_the_protocol_version_and_the_clock_are_required(client, uploading, clip_store):
    _, token = uploading
    no_version = client.post(f"/o/{token}/uploads", headers={"Upload-Length": "10"})
    assert no_version.status_code == 412 and no_version.headers["Tus-Version"] == "1.0.0"
    no_clock = client.post(
        f"/o/{token}/uploads",
        headers={
            **TUS,
            "Upload-Length": "1000",
            "Upload-Metadata": tus_metadata(filename="a.mp4", filetype="video/mp4"),
        },
    )
    assert no_clock.status_code == 400 and "recorder_time" in no_clock.get_data(as_text=True)
    assert create(client, token, 1000, clock_correct="1").status_code == 201


def test_a_link_that_does_not_take_uploads_refuses_them(client, owner_link, clip_store):
    _, token = owner_link  # not consented to upload yet
    assert create(client, token, 1000).status_code == 403
    assert client.post("/o/guessed/uploads", headers={**TUS, "Upload-Length": "1000"}).status_code == 410


def test_another_assignments_upload_is_not_found(client, session, world, uploading, clip_store):
    from test_owner_answers import assignment_link, routed_assignment

    _, token = uploading
    location = create(client, token, 1000).headers["Location"]
    other = routed_assignment(session, world)
    other_token = assignment_link(session, other)
    session.commit()
    upload_id = location.rsplit("/", 1)[1]
    assert client.head(f"/o/{other_token}/uploads/{upload_id}", headers=TUS).status_code in (403, 404)
