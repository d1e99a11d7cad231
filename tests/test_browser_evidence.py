"""Headless Chromium on a phone: an owner uploads a 50 MB clip, the connection drops mid-way, the upload goes on
when it is back and finishes; then the police download the clip (with a Range request) and the evidence
package, and `evidence verify` passes on it and fails on a copy with one byte changed."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from browser_support import PHONE, owner_link_on, sign_in, wait_until
from clip_support import MP4_HEAD
from conftest import SCREENSHOTS
from sqlalchemy import select
from sqlalchemy.orm import Session

from camera_registry.db import make_engine
from camera_registry.models import ClipUpload, FootageClip
from camera_registry.timezones import LOCAL_ZONE

CLIP_BYTES = 50 * 1024 * 1024
#: Slow enough that "mid-way" is a moment the test can catch: 50 MB in about 5 seconds.
UPLOAD_THROUGHPUT = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("clips") / "cổng trước.mp4"
    with open(path, "wb") as target:
        target.write(MP4_HEAD)
        remaining = CLIP_BYTES - len(MP4_HEAD)
        while remaining:
            block = os.urandom(min(remaining, 4 * 1024 * 1024))
            target.write(block)
            remaining -= len(block)
    return path


def upload_state(database_url: str) -> list[tuple[int, int, str]]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return [
                (upload.offset, upload.length, upload.state.value)
                for upload in session.scalars(select(ClipUpload).order_by(ClipUpload.created_at))
            ]
    finally:
        engine.dispose()


def consent_to_upload(page, live_server, token):
    page.goto(f"{live_server.url}/o/{token}")
    page.check("#consent-form input[value=owner_upload]")
    with page.expect_navigation():
        page.click("#consent-form button[type=submit]")
    assert page.locator("#tus-upload").is_visible() and not page.locator("#upload-form").is_visible()


def test_an_owner_uploads_50_mb_then_the_police_take_it_as_evidence(
    browser, phone, live_server, backend, clip_file, tmp_path
):
    token = owner_link_on(live_server)
    consent_to_upload(phone, live_server, token)
    phone.set_input_files("#tus-upload input[type=file]", str(clip_file))
    # The recorder runs 90 seconds fast.
    shown = datetime.now(LOCAL_ZONE).replace(microsecond=0, tzinfo=None) + timedelta(seconds=90)
    phone.fill("#tus-upload input[name=recorder_time]", shown.isoformat())
    cdp = phone.context.new_cdp_session(phone)
    cdp.send("Network.enable")

    def network(online: bool) -> None:
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": not online, "latency": 0, "downloadThroughput": -1, "uploadThroughput": UPLOAD_THROUGHPUT},
        )

    network(online=True)
    phone.click("#upload-start")
    wait_until(phone, "document.querySelector('#upload-progress').value >= 25", timeout=60)
    network(online=False)  # the phone loses its network mid-way
    wait_until(phone, "document.querySelector('#upload-status').classList.contains('error')", timeout=30)
    assert "Mất kết nối mạng" in phone.inner_text("#upload-status")
    [(kept, length, state)] = upload_state(live_server.database_url)
    assert 0 < kept < length == CLIP_BYTES and state == "receiving", (kept, length, state)
    phone.screenshot(path=str(SCREENSHOTS / f"owner-upload-offline-{backend}.png"), full_page=True)
    network(online=True)  # back online: the upload goes on from the bytes the server kept
    phone.wait_for_url(f"**/o/{token}", timeout=120_000)
    phone.wait_for_selector("#clips li", timeout=60_000)
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.screenshot(path=str(SCREENSHOTS / f"owner-upload-done-{backend}.png"), full_page=True)
    digest = hashlib.sha256(clip_file.read_bytes()).hexdigest()
    assert digest in phone.inner_text("#clips")
    assert "nhanh 0:01:" in phone.inner_text("#clips .clock")  # the recorder's clock offset is shown
    [(kept, length, state)] = upload_state(live_server.database_url)
    assert (kept, state) == (CLIP_BYTES, "complete")
    engine = make_engine(live_server.database_url)
    with Session(engine) as session:
        clip = session.scalar(select(FootageClip).order_by(FootageClip.id.desc()).limit(1))
        assert clip.sha256 == digest and clip.size_bytes == CLIP_BYTES
        assert 88 <= clip.clock_offset_seconds <= 92
        request_id, clip_id = clip.assignment.request_id, clip.id
    engine.dispose()
    police_take_the_clip_and_the_package(browser, live_server, backend, request_id, clip_id, digest, tmp_path)


def police_take_the_clip_and_the_package(browser, live_server, backend, request_id, clip_id, digest, tmp_path):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="vi-VN", accept_downloads=True)
    page = context.new_page()
    try:
        sign_in(page, live_server, live_server.username)
        page.goto(f"{live_server.url}/requests/{request_id}")
        with page.expect_download() as clip_download:
            page.click(f".clip[data-clip='{clip_id}'] a.clip-download")
        assert hashlib.sha256(Path(clip_download.value.path()).read_bytes()).hexdigest() == digest
        url = f"{live_server.url}/requests/{request_id}/clips/{clip_id}"
        part = page.request.get(url, headers={"Range": "bytes=1000-1999"})
        assert part.status == 206 and part.headers["content-range"] == f"bytes 1000-1999/{CLIP_BYTES}"
        assert len(part.body()) == 1000 and part.headers["content-disposition"].startswith("attachment")
        with page.expect_download() as package_download:
            page.click("#evidence a.evidence-package")
        package = tmp_path / "package.zip"
        package_download.value.save_as(package)
        public_key = tmp_path / "evidence-key.pem"
        public_key.write_bytes(page.request.get(f"{live_server.url}/requests/evidence-key.pem").body())
        assert page.inner_text("#evidence-key-fingerprint")
        page.screenshot(path=str(SCREENSHOTS / f"police-evidence-{backend}.png"), full_page=True)
    finally:
        context.close()
    runner = live_server.app.test_cli_runner()
    passed = runner.invoke(args=["evidence", "verify", str(package), "--public-key", str(public_key)])
    assert passed.exit_code == 0, passed.output
    assert "every hash and the signature match" in passed.output
    changed = tmp_path / "package-one-byte-changed.zip"
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x01  # a byte in the middle of the 50 MB clip
    changed.write_bytes(bytes(data))
    failed = runner.invoke(args=["evidence", "verify", str(changed), "--public-key", str(public_key)])
    assert failed.exit_code == 1 and "MISMATCH" in failed.output and "clips/" in failed.output, failed.output
