"""Test fixtures: one migrated database per run, one rolled-back transaction per test.

The backend is chosen with TEST_DATABASE=spatialite|postgis (default spatialite).

- spatialite: a fresh SpatiaLite file in a temp directory.
- postgis: a fresh database `cr_test_<hex>` on the server named by
  TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test);
  without it, a throwaway cluster is started from the installed PostgreSQL
  binaries (as the `postgres` user when running as root: initdb and pg_ctl
  refuse to run as root, DESIGN.md §4).

The schema is always built by the Alembic migrations, never by create_all, so
the tests also prove the migrations produce what the models describe.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from browser_support import PHONE
from database_support import app_of_its_own, migrated_database, served
from geoalchemy2.shape import from_shape
from owner_support import assignment_link, routed_assignment
from registry_support import COMMUNE_A_BOX, COMMUNE_B_BOX, admin_unit
from shapely import Point
from soak_support import free_port
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import camera_registry
from camera_registry import migrate
from camera_registry.db import make_engine
from camera_registry.models import (
    AdminLevel,
    AdminUnit,
    CommitmentChannel,
    Lens,
    Owner,
    OwnerKind,
    Recorder,
    Role,
    SharingCommitment,
    Site,
    User,
)
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM

BACKENDS = ("spatialite", "postgis")


def _backend() -> str:
    backend = os.environ.get("TEST_DATABASE", "spatialite").strip().lower() or "spatialite"
    if backend not in BACKENDS:
        raise pytest.UsageError(f"TEST_DATABASE must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


def pytest_report_header(config):
    backend = _backend()
    if backend == "postgis":
        where = os.environ.get("TEST_POSTGRES_URL") or "a throwaway cluster started by conftest.py"
        where = _hide_password(where)
        return f"camera_registry test database: postgis ({where})"
    return "camera_registry test database: spatialite (temp file)"


def _hide_password(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


# --------------------------------------------------------------------------- servers


class SpatiaLiteFiles:
    """Hands out fresh SpatiaLite database files in one temp directory."""

    backend = "spatialite"

    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="cr_test_spatialite_"))

    def new_database(self, label: str = "main") -> str:
        return f"sqlite:///{self.directory / f'{label}_{uuid.uuid4().hex[:8]}.sqlite'}"

    def drop_database(self, url: str) -> None:
        path = Path(make_url(url).database)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer:
    """Creates and drops `cr_test_<hex>` databases on one PostgreSQL server."""

    backend = "postgis"

    def __init__(self, admin_url: str, cluster: ThrowawayCluster | None = None) -> None:
        self.admin_url = make_url(admin_url)
        self.cluster = cluster
        self._admin = make_engine(self.admin_url.render_as_string(hide_password=False)).execution_options(
            isolation_level="AUTOCOMMIT"
        )
        self._created: list[str] = []

    def new_database(self, label: str = "main") -> str:
        name = f"cr_test_{uuid.uuid4().hex[:12]}"
        with self._admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self._created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_database(self, url: str) -> None:
        name = make_url(url).database
        with self._admin.connect() as conn:
            # WITH (FORCE) (PostgreSQL 13+) ends sessions a failed test left open.
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self._created:
            self._created.remove(name)

    def close(self) -> None:
        try:
            for name in list(self._created):
                self.drop_database(self.admin_url.set(database=name).render_as_string(hide_password=False))
        finally:
            self._admin.dispose()
            if self.cluster is not None:
                self.cluster.stop()


def _postgres_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres, or None when PostgreSQL is not installed."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
            candidates.append(Path(out))
        except (subprocess.CalledProcessError, OSError):
            pass
    # Debian keeps the server binaries out of PATH; prefer the newest version.
    versions = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(Path(p).parent.name), reverse=True
    )
    candidates.extend(Path(p) for p in versions)
    for directory in candidates:
        if all((directory / tool).is_file() for tool in ("initdb", "pg_ctl", "postgres")):
            return directory
    return None


def _version_key(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else 0 for part in name.split("."))


class ThrowawayCluster:
    """A private PostgreSQL cluster in a temp dir, trust auth, 127.0.0.1 on a free port."""

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.directory = Path(tempfile.mkdtemp(prefix="cr_test_pgcluster_"))
        self.datadir = self.directory / "data"
        self.logfile = self.directory / "server.log"
        self.port = free_port()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            # initdb and pg_ctl refuse to run as root: run them as `postgres`.
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                raise RuntimeError("running as root and there is no 'postgres' user to run initdb as") from None
            os.chown(self.directory, pw.pw_uid, pw.pw_gid)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        self.started = False

    def _run(self, *args: str) -> None:
        result = subprocess.run([*self._as_user, *args], capture_output=True, text=True)
        if result.returncode != 0:
            log = self.logfile.read_text(errors="replace")[-2000:] if self.logfile.exists() else ""
            raise RuntimeError(
                f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}\n{log}"
            )

    def start(self) -> str:
        self._run(
            str(self.bindir / "initdb"),
            "-D",
            str(self.datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.datadir),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )
        self.started = True
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            if self.started:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture(scope="session")
def backend() -> str:
    """'spatialite' or 'postgis': the backend this test run uses."""
    return _backend()


@pytest.fixture(scope="session")
def database_server(backend):
    """Creates fresh empty databases on the chosen backend (`.new_database()` -> URL)."""
    if backend == "spatialite":
        server = SpatiaLiteFiles()
    else:
        url = os.environ.get("TEST_POSTGRES_URL")
        if url:
            server = PostgresServer(url)
        else:
            bindir = _postgres_bindir()
            if bindir is None:
                pytest.skip(
                    "TEST_DATABASE=postgis but TEST_POSTGRES_URL is unset and no PostgreSQL server "
                    "binaries were found (install postgresql-15-postgis-3)"
                )
            cluster = ThrowawayCluster(bindir)
            try:
                url = cluster.start()
            except Exception:
                cluster.stop()
                raise
            server = PostgresServer(url, cluster=cluster)
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def database_url(database_server) -> str:
    """The run's database, migrated to head."""
    return migrated_database(database_server, "main")


@pytest.fixture()
def own_database_url(database_server):
    """A database of the test's own, migrated to head, for other processes and connections to share with it."""
    url = migrated_database(database_server, "own")
    yield url
    database_server.drop_database(url)


@pytest.fixture(scope="session")
def engine(database_url) -> Engine:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# --------------------------------------------------------------------------- per-test transaction


@pytest.fixture()
def db_connection(engine):
    """A connection inside a transaction that is rolled back after the test."""
    connection = engine.connect()
    transaction = connection.begin()
    try:
        yield connection
    finally:
        if transaction.is_active:
            transaction.rollback()
        connection.close()


@pytest.fixture()
def session(db_connection) -> Session:
    """An ORM session on the test's connection; code under test may commit (it commits a SAVEPOINT)."""
    session = Session(bind=db_connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()


@pytest.fixture(scope="session", autouse=True)
def _translations():
    """Compile the owner pages' catalogs as `make install` does: the .mo files are build output, not in git."""
    from babel.messages.frontend import CommandLineInterface

    CommandLineInterface().run(
        ["pybabel", "--quiet", "compile", "-d", str(Path(camera_registry.__file__).parent / "translations")]
    )


@pytest.fixture(scope="session")
def _app(database_url):
    instance = tempfile.mkdtemp(prefix="cr_test_instance_")
    app = camera_registry.create_app(
        {
            "DATABASE_URL": database_url,
            "TESTING": True,
            "INSTANCE_PATH": instance,
            "SECRET_KEY": "test",
        }
    )
    yield app
    app.extensions["engine"].dispose()
    shutil.rmtree(instance, ignore_errors=True)


@pytest.fixture()
def app(_app, db_connection):
    """The Flask app, its sessions bound to the test's connection so requests see and roll back with the test."""
    factory = _app.extensions["session_factory"]
    saved = dict(factory.kw)
    factory.configure(bind=db_connection, join_transaction_mode="create_savepoint")
    for limiter in _app.extensions.get("limiter", ()):
        limiter.reset()  # rate limits count per test, not across the whole run
    try:
        yield _app
    finally:
        factory.kw.clear()
        factory.kw.update(saved)


@pytest.fixture()
def client(app):
    return app.test_client()


# --------------------------------------------------------------------------- a small registry with one actor per role


@dataclass
class World:
    """Province P with district D; commune A under D, commune B directly under P.

    One site, owner, recorder, lens and commitment in each commune, and a
    Bearer header for each role (and the police of both communes).
    """

    province: AdminUnit
    district: AdminUnit
    commune_a: AdminUnit
    commune_b: AdminUnit
    objects: dict[str, dict[str, int]]
    headers: dict[str, dict[str, str]]


ROLES = ("anonymous", "admin", "province_staff", "district_staff", "police_a", "police_b")


def _cameras_in(session, commune, tag: str, lon: float, lat: float) -> dict[str, int]:
    site = Site(code=f"site-{tag}", name=f"Site {tag}", commune=commune)
    spare_site = Site(code=f"spare-site-{tag}", name=f"Spare site {tag}", commune=commune)
    owner = Owner(
        external_id=f"owner-{tag}",
        kind=OwnerKind.HOUSEHOLD,
        name=f"Owner {tag}",
        commune=commune,
        phone="0912345678",
        email=f"{tag}@example.vn",
        address=f"1 Road {tag}",
    )
    recorder = Recorder(
        external_id=f"rec-{tag}",
        owner=owner,
        site=site,
        retention_days=14,
        point=from_shape(Point(lon, lat), srid=4326),
    )
    lens = Lens(
        external_id=f"lens-{tag}",
        recorder=recorder,
        point=from_shape(Point(lon + 0.0001, lat), srid=4326),
        bearing_deg=90.0,
        fov_deg=90.0,
        range_m=30.0,
    )
    signed = datetime.now(UTC) - timedelta(days=30)
    commitment = SharingCommitment(
        owner=owner,
        all_recorders=True,
        signed_at=signed,
        valid_until=signed + timedelta(days=1000),
        channel=CommitmentChannel.PAPER,
        text_version="2024.1",
    )
    session.add_all([site, spare_site, owner, recorder, lens, commitment])
    session.flush()
    return {
        "site": site.id,
        "spare_site": spare_site.id,
        "owner": owner.id,
        "recorder": recorder.id,
        "lens": lens.id,
        "commitment": commitment.id,
    }


@pytest.fixture()
def world(session) -> World:
    province = admin_unit("P", "Tỉnh Thử", AdminLevel.PROVINCE)
    district = admin_unit("D", "Huyện Thử", AdminLevel.DISTRICT, province)
    commune_a = admin_unit("A", "Xã A", parent=district, bounds=COMMUNE_A_BOX)
    commune_b = admin_unit("B", "Xã B", parent=province, bounds=COMMUNE_B_BOX)
    session.add_all([province, district, commune_a, commune_b])
    session.flush()
    objects = {
        "a": _cameras_in(session, commune_a, "a", 105.82, 21.02),
        "b": _cameras_in(session, commune_b, "b", 105.87, 21.02),
    }
    headers = {"anonymous": {}}
    for name, role, unit in (
        ("admin", Role.ADMIN, None),
        ("province_staff", Role.PROVINCE_STAFF, province),
        ("district_staff", Role.DISTRICT_STAFF, district),
        ("police_a", Role.COMMUNE_POLICE, commune_a),
        ("police_b", Role.COMMUNE_POLICE, commune_b),
    ):
        # A fixed placeholder hash: these users sign in by token only, and argon2 per test would be slow.
        user = User(username=name.replace("_", "-"), password_hash="!", role=role, admin_unit=unit)
        session.add(user)
        session.flush()
        _, secret = accounts.create_token(session, SYSTEM, user, "tests")
        headers[name] = {"Authorization": f"Bearer {secret}"}
    session.commit()
    return World(province, district, commune_a, commune_b, objects, headers)


#: The password of the `police` fixture's user, and one it may change to: both pass the password policy.
PASSWORD = "correct horse battery"
NEW_PASSWORD = "violet tram lantern"


@pytest.fixture()
def police(session, world):
    """A commune police officer of commune A who signs in with a real (argon2) password."""
    user = accounts.create_user(session, SYSTEM, "police.dongda", PASSWORD, "commune_police", "A", "Nguyễn Văn A")
    session.commit()
    return user


# --------------------------------------------------------------------------- an owner's link and the clip store


@pytest.fixture()
def owner_link(session, world):
    """A live link to the assignment of owner a; committed so the app's requests see it."""
    assignment = routed_assignment(session, world)
    token = assignment_link(session, assignment)
    session.commit()
    return assignment, token


@pytest.fixture()
def clip_store(app, tmp_path, monkeypatch):
    """The app's clip storage directory, in the test's temp directory."""
    monkeypatch.setitem(app.config, "CLIP_STORAGE_DIR", str(tmp_path / "clips"))
    return tmp_path / "clips"


# --------------------------------------------------------------------------- a live server for the browser tests


@dataclass
class LiveServer:
    url: str
    username: str  # commune police of Phường Đống Đa
    password: str
    database_url: str
    app: object

    others = {"staff.hanoi": ("province_staff", "01"), "police.chidam": ("commune_police", "07999")}


@pytest.fixture(scope="module")
def live_server(database_server):
    """The app on a real port, on its own database with the bundled sample.

    It cannot share the tests' rolled-back connection: the server answers from
    another thread, as it does in production.
    """
    from camera_registry.services.sample import load_dataset

    with app_of_its_own(database_server, "browser") as app:
        migrate.upgrade(app.extensions["engine"])
        password = "browser-test-password"
        with app.extensions["session_factory"]() as session:
            load_dataset(session)
            accounts.create_user(
                session, SYSTEM, "police.dongda", password, Role.COMMUNE_POLICE, "00235", "Công an phường"
            )
            for username, (role, unit) in LiveServer.others.items():
                accounts.create_user(session, SYSTEM, username, password, role, unit)
            session.commit()
        with served(app) as base_url:
            app.config["PUBLIC_BASE_URL"] = base_url  # owner links in messages point back at this server
            yield LiveServer(base_url, "police.dongda", password, app.config["DATABASE_URL"], app)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's headless Chromium driven by Playwright (never Playwright's own browser download)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (make test does)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


SCREENSHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@contextmanager
def _watched_page(browser, **context_options):
    """A page in a fresh context that records any request leaving 127.0.0.1 (there must be none) and fails the test
    on any script error."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="vi-VN", **context_options)
    page = context.new_page()
    page.foreign_requests = []
    page.script_errors = []
    page.on(
        "request",
        lambda request: (
            urlsplit(request.url).hostname not in ("127.0.0.1", None) and page.foreign_requests.append(request.url)
        ),
    )
    page.on("pageerror", lambda error: page.script_errors.append(str(error)))
    yield page
    context.close()
    assert page.script_errors == [], page.script_errors


@pytest.fixture()
def page(browser, live_server):
    """A fresh browser page on a desktop screen."""
    with _watched_page(browser, viewport={"width": 1280, "height": 900}) as page:
        yield page


@pytest.fixture()
def phone(browser, live_server):
    """A fresh browser page on a phone's touch screen, as owners open their links."""
    with _watched_page(browser, viewport=PHONE, is_mobile=True, has_touch=True) as page:
        yield page


# --------------------------------------------------------------------------- notification receivers and settings


@pytest.fixture()
def webhook_receiver():
    """A real HTTP gateway on 127.0.0.1 that records each request (tests/notify_support.py)."""
    from notify_support import WebhookReceiver

    receiver = WebhookReceiver()
    yield receiver
    receiver.close()


@pytest.fixture()
def smtp_receiver():
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps each message."""
    from notify_support import SmtpReceiver

    receiver = SmtpReceiver(free_port())
    yield receiver
    receiver.close()


WEBHOOK_SECRET = "test-webhook-secret"


@pytest.fixture()
def notification_settings(_app, webhook_receiver, smtp_receiver):
    """The app's notification settings with both channels pointed at the local receivers."""
    from camera_registry.services.notifications import NotificationSettings

    return NotificationSettings.from_config(
        {
            **_app.config,
            "NOTIFY_WEBHOOK_URL": webhook_receiver.url,
            "NOTIFY_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SMTP_HOST": smtp_receiver.host,
            "SMTP_PORT": smtp_receiver.port,
        }
    )


# --------------------------------------------------------------------------- channel provider simulators (issue 13)


@pytest.fixture()
def zns_simulator():
    """Zalo's ZNS send and OA token refresh on 127.0.0.1 (tests/provider_simulators.py)."""
    from provider_simulators import ZnsSimulator

    simulator = ZnsSimulator()
    yield simulator
    simulator.close()


@pytest.fixture()
def esms_simulator():
    """eSMS's brandname send on 127.0.0.1, with every message kind's SMS template registered."""
    from provider_simulators import EsmsSimulator

    from camera_registry.services.channels.templates import registered_sms_templates

    simulator = EsmsSimulator(registered_sms_templates())
    yield simulator
    simulator.close()


@pytest.fixture()
def speedsms_simulator():
    """SpeedSMS's send on 127.0.0.1."""
    from provider_simulators import SpeedSmsSimulator

    simulator = SpeedSmsSimulator()
    yield simulator
    simulator.close()


@pytest.fixture()
def receipt_catcher():
    """Where the simulators' delivery callbacks land, recorded."""
    from provider_simulators import ReceiptCatcher

    catcher = ReceiptCatcher()
    yield catcher
    catcher.close()
