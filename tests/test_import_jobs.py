"""Register imports in the background (services/import_jobs.py): queued uploads, leased runs, progress, reports,
and the admin pages that queue and follow them (/admin/imports)."""

from __future__ import annotations

import io
import re
import threading
from datetime import timedelta

import pytest
from import_support import GOOD_ROW, register
from registry_support import COMMUNE_A_BOX, admin_unit
from sqlalchemy import event, func, select

from camera_registry.db import make_engine, make_session_factory, write_unit
from camera_registry.jobs import JOBS
from camera_registry.models import AdminLevel, AuditEvent, Lens, Role, User
from camera_registry.models.base import utcnow
from camera_registry.models.import_job import ImportJob, ImportJobStatus
from camera_registry.services import accounts, import_jobs
from camera_registry.services.access import SYSTEM, actor_for
from camera_registry.services.errors import PayloadTooLarge, PermissionDenied, ValidationFailed
from camera_registry.services.imports.writer import BATCH
from camera_registry.services.upload_limits import UploadLimits

BAD_BEARING = GOOD_ROW.format(n=2).replace(",90,90,30,", ",400,90,30,")


@pytest.fixture()
def factory(db_connection):
    """Sessions on the test's connection, as the app's: read and write units, committing savepoints."""
    sessions = make_session_factory(db_connection.engine)
    sessions.configure(bind=db_connection, join_transaction_mode="create_savepoint")
    return sessions


@pytest.fixture()
def settings(tmp_path):
    return import_jobs.ImportJobSettings(
        upload_dir=tmp_path / "imports", max_bytes=16 * 1024 * 1024, limits=UploadLimits()
    )


def actor_of(session, username: str):
    return actor_for(session, session.scalar(select(User).where(User.username == username)))


def queue(factory, settings, content: bytes, *, username="admin", filename="register.csv", dry_run=False) -> int:
    with factory() as session:
        actor = actor_of(session, username)
    return import_jobs.queue_import(
        lambda work: write_unit(factory, work),
        actor,
        io.BytesIO(content),
        filename,
        dry_run=dry_run,
        settings=settings,
    )


def job_of(session, job_id: int) -> ImportJob:
    session.expire_all()
    return session.get(ImportJob, job_id)


def lenses(session) -> int:
    return session.scalar(select(func.count()).select_from(Lens))


def many_rows(count: int) -> bytes:
    """`count` lenses of one new owner in commune A, each at its own point."""
    rows = [
        f"A,site-a,owner-many,household,Hộ nhiều,0912000222,rec-many,14,lens-many-{n},"
        f"{105.81 + n % 10_000 * 0.000003:.6f},{21.01 + n // 10_000 * 0.001:.3f},90,90,30,active,,"
        for n in range(count)
    ]
    return register(*rows)


# --------------------------------------------------------------------------- service


def test_a_queued_register_is_imported_with_its_counts_and_its_file_removed(session, world, factory, settings):
    before = lenses(session)
    job_id = queue(factory, settings, register(GOOD_ROW.format(n=1), GOOD_ROW.format(n=2)))
    queued = job_of(session, job_id)
    assert queued.status == ImportJobStatus.QUEUED and queued.filename == "register.csv"
    assert (settings.upload_dir / queued.stored_path).is_file()

    assert import_jobs.run_imports(factory, settings) == {"imported": 1}
    done = job_of(session, job_id)
    assert done.status == ImportJobStatus.IMPORTED
    assert done.rows_done == done.rows_total == 2
    assert done.report["lenses"] == {"created": 2, "updated": 0, "unchanged": 0} and done.report["errors"] == []
    assert done.stored_path is None and list(settings.upload_dir.iterdir()) == []
    assert done.finished_at is not None and done.leased_until is None
    assert lenses(session) == before + 2
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "import_job", AuditEvent.entity_id == str(job_id))
    ).all()
    assert sorted(actions) == ["import_job.imported", "import_job.queued", "import_job.started"]
    assert import_jobs.run_imports(factory, settings) == {}  # nothing left to do


def test_a_register_with_a_bad_row_is_rejected_with_its_row_errors_and_nothing_written(
    session, world, factory, settings
):
    before = lenses(session)
    job_id = queue(factory, settings, register(GOOD_ROW.format(n=1), BAD_BEARING))
    assert import_jobs.run_imports(factory, settings) == {"rejected": 1}
    job = job_of(session, job_id)
    assert job.status == ImportJobStatus.REJECTED
    assert [(e["row"], e["column"]) for e in job.report["errors"]] == [(3, "bearing_deg")]
    assert job.report["errors_not_listed"] == 0
    assert lenses(session) == before
    assert list(settings.upload_dir.iterdir()) == []


def test_a_dry_run_reports_what_it_would_do_and_writes_nothing(session, world, factory, settings):
    before = lenses(session)
    job_id = queue(factory, settings, register(GOOD_ROW.format(n=1)), dry_run=True)
    import_jobs.run_imports(factory, settings)
    job = job_of(session, job_id)
    assert job.status == ImportJobStatus.IMPORTED and job.dry_run
    assert job.report["lenses"]["created"] == 1 and lenses(session) == before


def test_progress_is_written_every_batch_in_writes_of_its_own(session, world, factory, settings, db_connection):
    rows = 2 * BATCH + 1
    job_id = queue(factory, settings, many_rows(rows))
    progress = []

    def watch(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE IMPORT_JOBS") and "rows_total" in statement:
            progress.append(statement)

    event.listen(db_connection, "before_cursor_execute", watch)
    try:
        import_jobs.run_imports(factory, settings)
    finally:
        event.remove(db_connection, "before_cursor_execute", watch)
    job = job_of(session, job_id)
    assert job.status == ImportJobStatus.IMPORTED and job.rows_done == job.rows_total == rows
    # BATCH and 2 * BATCH rows read, every row read, then the settled job (the claim sets no total).
    assert len(progress) == 4
    assert lenses(session) >= rows


def test_a_file_over_the_upload_limit_is_refused_at_upload_and_nothing_kept(session, world, factory, settings):
    small = import_jobs.ImportJobSettings(settings.upload_dir, max_bytes=200, limits=settings.limits)
    with pytest.raises(PayloadTooLarge) as refused:
        queue(factory, small, many_rows(10))
    assert refused.value.errors["file"][0].startswith("the upload is larger than the limit of")
    assert list(small.upload_dir.iterdir()) == []
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_only_an_admin_may_queue_a_register_file(session, world, factory, settings):
    with pytest.raises(PermissionDenied):
        queue(factory, settings, register(GOOD_ROW.format(n=1)), username="police-a")
    with pytest.raises(ValidationFailed) as refused:
        queue(factory, settings, b"not a register", filename="notes.txt")
    assert "is not a register file" in refused.value.errors["file"][0]
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_a_file_refused_as_a_whole_rejects_the_job_with_the_reason(session, world, factory, settings):
    limited = import_jobs.ImportJobSettings(settings.upload_dir, settings.max_bytes, UploadLimits(max_rows=1))
    job_id = queue(factory, limited, register(GOOD_ROW.format(n=1), GOOD_ROW.format(n=2)))
    assert import_jobs.run_imports(factory, limited) == {"rejected": 1}
    job = job_of(session, job_id)
    assert job.status == ImportJobStatus.REJECTED and job.report is None and "1" in job.error


def test_a_job_whose_file_vanished_fails(session, world, factory, settings):
    job_id = queue(factory, settings, register(GOOD_ROW.format(n=1)))
    for path in settings.upload_dir.iterdir():
        path.unlink()
    assert import_jobs.run_imports(factory, settings) == {"failed": 1}
    job = job_of(session, job_id)
    assert job.status == ImportJobStatus.FAILED and job.error == import_jobs.FILE_GONE


def test_a_leased_job_is_not_claimed_twice(session, world, factory, settings):
    queue(factory, settings, register(GOOD_ROW.format(n=1)))
    now = utcnow()
    assert import_jobs.claim_next(factory, now) is not None
    assert import_jobs.claim_next(factory, now) is None
    assert import_jobs.claim_next(factory, now + import_jobs.LEASE - timedelta(seconds=1)) is None


def test_a_job_whose_worker_died_is_run_again_once_its_lease_ran_out(session, world, factory, settings):
    before = lenses(session)
    job_id = queue(factory, settings, register(GOOD_ROW.format(n=1)))
    now = utcnow() - import_jobs.LEASE - timedelta(minutes=1)
    dead = import_jobs.claim_next(factory, now)  # this worker died: its lease ran out a minute ago
    assert job_of(session, job_id).status == ImportJobStatus.RUNNING
    taken_over = import_jobs.claim_next(factory, utcnow())
    assert taken_over == import_jobs.Lease(job_id, taken_over.started_at) and taken_over != dead

    # The dead run, come back to life, can neither settle the job nor leave its rows behind.
    assert import_jobs.run_job(factory, settings, dead) == ImportJobStatus.RUNNING
    assert lenses(session) == before
    assert import_jobs.run_job(factory, settings, taken_over) == ImportJobStatus.IMPORTED
    assert lenses(session) == before + 1
    actions = session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_type == "import_job", AuditEvent.entity_id == str(job_id))
    ).all()
    assert actions.count("import_job.restarted") == 1


def test_two_workers_at_once_claim_a_job_once(own_database_url):
    """Real connections, racing: the conditional UPDATE lets exactly one of them take the job."""
    engine = make_engine(own_database_url)
    sessions = make_session_factory(engine)
    try:
        with sessions() as session:
            user = User(username="admin-race", password_hash="!", role=Role.ADMIN)
            session.add(user)
            session.flush()
            session.add(ImportJob(user_id=user.id, filename="register.csv", stored_path="gone.csv"))
            session.commit()
        start, claims = threading.Barrier(4), []

        def worker():
            start.wait()
            claims.append(import_jobs.claim_next(sessions, utcnow()))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len([claim for claim in claims if claim is not None]) == 1
    finally:
        engine.dispose()


def test_on_real_connections_the_progress_is_seen_while_the_rows_are_read(own_database_url, tmp_path):
    """The import's own transaction holds no write lock while it reads (SQLite's only writer): each progress
    write commits at once, and another connection sees the bar move before the job settles."""
    engine = make_engine(own_database_url)
    sessions = make_session_factory(engine)
    settings = import_jobs.ImportJobSettings(tmp_path, 64 * 1024 * 1024, UploadLimits())
    rows = 3 * BATCH + 1
    try:
        with sessions() as session:
            province = admin_unit("P", "Tỉnh Thử", AdminLevel.PROVINCE)
            session.add_all([province, admin_unit("A", "Xã A", parent=province, bounds=COMMUNE_A_BOX)])
            session.add(User(username="admin-real", password_hash="!", role=Role.ADMIN))
            session.commit()
        job_id = queue(sessions, settings, many_rows(rows), username="admin-real")
        seen, done = set(), threading.Event()

        def watch():
            while not done.is_set():
                with engine.connect() as connection:
                    seen.add(connection.scalar(select(ImportJob.rows_done).where(ImportJob.id == job_id)))
                done.wait(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            outcome = import_jobs.run_imports(sessions, settings)
        finally:
            done.set()
            watcher.join()
        with sessions() as session:
            job = session.get(ImportJob, job_id)
            assert outcome == {"imported": 1}, (job.error, job.report and job.report["errors"][:3])
        assert seen & {BATCH, 2 * BATCH, 3 * BATCH}, seen
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(Lens)) == rows
    finally:
        engine.dispose()


def test_the_scheduler_picks_queued_imports_within_seconds():
    job, seconds = JOBS["run_imports"]
    assert job is import_jobs.run_imports and seconds <= 5


# --------------------------------------------------------------------------- pages


@pytest.fixture()
def instance(app, tmp_path, monkeypatch):
    """The app's instance folder (its upload directory under it) in the test's temp directory."""
    monkeypatch.setitem(app.config, "INSTANCE_PATH", str(tmp_path))
    return tmp_path


def csrf_of(client, headers) -> str:
    html = client.get("/admin/imports", headers=headers).get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def upload(client, headers, content: bytes, *, name="register.csv", csrf=None, json=True, **form):
    return client.post(
        "/admin/imports",
        data={"csrf_token": csrf or csrf_of(client, headers), "file": (io.BytesIO(content), name), **form},
        headers={**headers, **({"Accept": "application/json"} if json else {})},
        content_type="multipart/form-data",
    )


def run_queued(app) -> None:
    import_jobs.run_imports(app.extensions["session_factory"], import_jobs.ImportJobSettings.from_config(app.config))


def test_the_import_pages_are_for_admins_only(client, world, session, instance):
    admin = world.headers["admin"]
    job_id = upload(client, admin, register(GOOD_ROW.format(n=1))).get_json()["id"]
    for role in ("police_a", "district_staff", "province_staff"):
        headers = world.headers[role]
        assert client.get("/admin/imports", headers=headers).status_code == 403
        assert client.get(f"/admin/imports/{job_id}", headers=headers).status_code == 403
        assert client.get(f"/admin/imports/{job_id}/status", headers=headers).status_code == 403
        refused = upload(client, headers, register(GOOD_ROW.format(n=1)), csrf=csrf_of(client, admin))
        assert refused.status_code in (400, 403)
    assert client.get("/admin/imports").status_code == 302
    assert client.get(f"/admin/imports/{job_id + 1}", headers=admin).status_code == 404
    assert 'href="/admin/imports"' in client.get("/admin", headers=admin).get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 1


def test_an_upload_without_the_forms_csrf_token_is_refused(client, world, session, instance):
    refused = client.post(
        "/admin/imports",
        data={"file": (io.BytesIO(register(GOOD_ROW.format(n=1))), "register.csv")},
        headers=world.headers["admin"],
        content_type="multipart/form-data",
    )
    assert refused.status_code == 400
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_an_upload_is_queued_and_its_status_followed_until_it_settles(client, world, session, app, instance):
    admin = world.headers["admin"]
    queued = upload(client, admin, register(GOOD_ROW.format(n=1), GOOD_ROW.format(n=2)))
    assert queued.status_code == 202
    job_id = queued.get_json()["id"]
    assert queued.get_json() == {
        "id": job_id,
        "url": f"/admin/imports/{job_id}",
        "status": f"/admin/imports/{job_id}/status",
    }
    status = client.get(f"/admin/imports/{job_id}/status?lang=en", headers=admin).get_json()
    assert status == {
        "id": job_id,
        "status": "queued",
        "status_text": "Waiting to start",
        "rows_done": 0,
        "rows_total": None,
        "percent": 0,
        "settled": False,
    }
    page = client.get(f"/admin/imports/{job_id}", headers=admin).get_data(as_text=True)
    assert "js/import-upload.js" in page and 'data-settled="0"' in page

    run_queued(app)
    status = client.get(f"/admin/imports/{job_id}/status", headers=admin).get_json()
    assert status["status"] == "imported" and status["percent"] == 100 and status["settled"]
    assert status["rows_done"] == status["rows_total"] == 2
    english = client.get(f"/admin/imports/{job_id}?lang=en", headers=admin).get_data(as_text=True)
    assert "Imported" in english and "js/import-upload.js" not in english
    lenses_row = re.search(r"<tr><th>Lenses</th>(.*?)</tr>", english).group(1)
    assert re.findall(r"<td>(\d+)</td>", lenses_row) == ["2", "0", "0"]
    listed = client.get("/admin/imports", headers=admin).get_data(as_text=True)
    assert f'data-job="{job_id}" data-status="imported"' in listed and "register.csv" in listed


def test_a_form_post_without_the_script_lands_on_the_jobs_page(client, world, instance):
    posted = upload(client, world.headers["admin"], register(GOOD_ROW.format(n=1)), json=False, dry_run="1")
    assert posted.status_code == 303 and re.fullmatch(r"/admin/imports/\d+", posted.headers["Location"])


def test_a_rejected_register_shows_its_row_errors_capped(client, world, session, app, instance):
    admin = world.headers["admin"]
    bad = [
        GOOD_ROW.format(n=1).replace("lens-new-1", f"lens-bad-{n}").replace(",90,90,30,", ",400,90,30,")
        for n in range(203)
    ]
    job_id = upload(client, admin, register(*bad)).get_json()["id"]
    run_queued(app)
    html = client.get(f"/admin/imports/{job_id}?lang=en", headers=admin).get_data(as_text=True)
    table = re.search(r'<table class="list" id="row-errors">(.*?)</table>', html, re.S).group(1)
    assert table.count("<tr><td>") == 200 and "<td>2</td>" in table and "bearing_deg" in table
    assert re.search(r'id="more-row-errors">and 3 more<', html)
    assert "Rejected, nothing written" in html


def test_a_file_over_the_upload_limit_is_refused_with_the_limit(client, world, session, app, instance, monkeypatch):
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    admin = world.headers["admin"]
    csrf = csrf_of(client, admin)
    refused = upload(client, admin, many_rows(20_000), csrf=csrf)
    assert refused.status_code == 413
    assert refused.get_json() == {"errors": {"file": ["Tệp lớn hơn giới hạn tải lên 1 MB."]}}
    page = upload(client, admin, many_rows(20_000), csrf=csrf, json=False)
    assert page.status_code == 413 and "Tệp lớn hơn giới hạn tải lên 1 MB." in page.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(ImportJob)) == 0
    assert not (instance / "imports").exists() or list((instance / "imports").iterdir()) == []


def test_a_file_that_is_no_register_is_refused_naming_the_field(client, world, instance):
    refused = upload(client, world.headers["admin"], b"hello", name="notes.txt")
    # The page's script shows the reason as it comes, so it comes in the page's language (Vietnamese here).
    assert refused.status_code == 422 and "không phải tệp sổ đăng ký" in refused.get_json()["errors"]["file"][0]


# --------------------------------------------------------------------------- Swagger UI's "Try it out"

ADMIN_PASSWORD = "quiet orchard telescope"
CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DOCS_TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def test_try_it_out_sends_the_docs_pages_csrf_token_for_a_signed_in_browser(client, world, session):
    """Signed in by the cookie, an API write needs X-CSRFToken: the docs page carries its token, and its request
    interceptor adds it to every request sent without a Bearer token (as Swagger UI then sends it)."""
    accounts.create_user(session, SYSTEM, "admin.docs", ADMIN_PASSWORD, "admin", None)
    session.commit()
    login_form = CSRF_FIELD.search(client.get("/login").get_data(as_text=True)).group(1)
    signed_in = client.post(
        "/login", data={"username": "admin.docs", "password": ADMIN_PASSWORD, "csrf_token": login_form}
    )
    assert signed_in.status_code == 302
    docs = client.get("/api/docs").get_data(as_text=True)
    token = DOCS_TOKEN.search(docs).group(1)
    assert 'request.headers["X-CSRFToken"] = token.content' in docs

    def try_it_out(headers):
        return client.post(
            "/api/v1/imports?dry_run=true",
            data={"file": (io.BytesIO(register(GOOD_ROW.format(n=1))), "register.csv")},
            headers=headers,
            content_type="multipart/form-data",
        )

    refused = try_it_out({})
    assert refused.status_code == 400 and "CSRF" in refused.get_json()["message"]
    answered = try_it_out({"X-CSRFToken": token})
    assert answered.status_code == 200 and answered.get_json()["lenses"]["created"] == 1


def test_the_docs_page_carries_no_token_for_a_visitor_signed_out(client):
    assert DOCS_TOKEN.search(client.get("/api/docs").get_data(as_text=True)) is None


def test_a_failed_jobs_page_says_why_in_the_readers_language(client, world, app, instance):
    admin = world.headers["admin"]
    job_id = upload(client, admin, register(GOOD_ROW.format(n=1))).get_json()["id"]
    for path in (instance / "imports").iterdir():
        path.unlink()
    run_queued(app)
    vietnamese = client.get(f"/admin/imports/{job_id}?lang=vi", headers=admin).get_data(as_text=True)
    assert "Tệp đã tải lên không còn nữa; vui lòng tải lên lại." in vietnamese and "Thất bại" in vietnamese
    english = client.get(f"/admin/imports/{job_id}?lang=en", headers=admin).get_data(as_text=True)
    assert "The uploaded file is no longer there; upload it again." in english


def test_a_rejected_jobs_row_errors_are_said_in_each_readers_language(client, world, app, instance):
    """The job keeps its row errors' msgids, so each later reader reads them in their own language."""
    admin = world.headers["admin"]
    bad = GOOD_ROW.format(n=1).replace(",90,90,30,", ",400,90,30,")
    job_id = upload(client, admin, register(bad)).get_json()["id"]
    run_queued(app)
    reasons = {}
    for language in ("vi", "en"):
        html = client.get(f"/admin/imports/{job_id}?lang={language}", headers=admin).get_data(as_text=True)
        reasons[language] = re.search(r'<table class="list" id="row-errors">(.*?)</table>', html, re.S).group(1)
    assert "bearing 400.0 must be at least 0 and below 360 degrees" in reasons["en"]
    assert "hướng 400.0 phải từ 0 đến dưới 360 độ" in reasons["vi"]
