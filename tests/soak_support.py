"""The soak test's machinery, shared with the load benchmark (benchmarks/load.py).

- `prepare_registry`: a fresh database, migrated, with the bundled sample and
  Bearer tokens for the police of the communes that hold lenses, province
  staff and an administrator;
- `Service`: a child process (gunicorn with the deploy settings, or the
  scheduler) in its own process group, its output kept in a log file;
- `MixedLoad`: client threads that drive the real HTTP routes (police
  writers, readers, owners answering through their links, request creation),
  each bounded by a deadline and a count, and an `Outcomes` tally of every
  answer by kind and route (status, latency).

Everything listens on and talks to 127.0.0.1 only.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from geoalchemy2.shape import to_shape
from sqlalchemy import func, select

from camera_registry import migrate
from camera_registry.db import make_engine, make_session_factory
from camera_registry.models import AdminUnit, Lens, Role
from camera_registry.services import accounts
from camera_registry.services.access import SYSTEM
from camera_registry.services.sample import load_dataset

REPO = Path(__file__).resolve().parent.parent
#: The deploy settings: the worker and thread counts follow DATABASE_URL's backend (deploy/gunicorn.conf.py).
GUNICORN_CONF = REPO / "deploy" / "gunicorn.conf.py"
APP = "camera_registry:create_app()"
LOOPBACK = "127.0.0.1"
CLIENT_TIMEOUT = (5, 60)  # connect, read: gunicorn's own worker timeout is 60 s


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def console_script(name: str) -> str:
    """A console script of this virtualenv (beside the running interpreter), else from PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else name


# --------------------------------------------------------------------------- the registry


@dataclass
class Desk:
    """The police of one commune: their Bearer header and the lenses they may route to and edit."""

    commune_code: str
    headers: dict[str, str]
    lens_ids: list[int]
    lens_points: list[tuple[float, float]]


@dataclass
class Registry:
    database_url: str
    desks: list[Desk]
    staff_headers: dict[str, str]  # province staff of Hà Nội: reads only, no contacts
    admin_headers: dict[str, str]
    bbox: tuple[float, float, float, float]  # around every lens
    tiles: list[tuple[int, int, int]]  # z14 tiles that hold lenses

    @property
    def lens_points(self) -> list[tuple[float, float]]:
        return [point for desk in self.desks for point in desk.lens_points]


def tile_of(lon: float, lat: float, zoom: int) -> tuple[int, int, int]:
    n = 2**zoom
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return zoom, x, y


def prepare_registry(database_url: str, desks: int = 3) -> Registry:
    """Migrate, load the bundled sample, and give the `desks` communes with most lenses a police account each."""
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        with make_session_factory(engine)() as session:
            load_dataset(session)
            session.commit()

            def token(username: str, role: Role, unit: str | None) -> dict[str, str]:
                user = accounts.create_user(session, SYSTEM, username, "soak-password-unused", role, unit)
                _, secret = accounts.create_token(session, SYSTEM, user, "soak")
                return {"Authorization": f"Bearer {secret}"}

            busiest = session.execute(
                select(Lens.commune_id, func.count())
                .where(Lens.commune_id.is_not(None))
                .group_by(Lens.commune_id)
                .order_by(func.count().desc(), Lens.commune_id)
                .limit(desks)
            ).all()
            found = []
            for commune_id, _ in busiest:
                commune = session.get(AdminUnit, commune_id)
                lenses = session.execute(
                    select(Lens.id, Lens.point).where(Lens.commune_id == commune_id).order_by(Lens.id)
                ).all()
                points = [(shape.x, shape.y) for shape in (to_shape(point) for _, point in lenses)]
                headers = token(f"soak.police.{commune.code}", Role.COMMUNE_POLICE, commune.code)
                found.append(Desk(commune.code, headers, [lens_id for lens_id, _ in lenses], points))
            staff = token("soak.staff", Role.PROVINCE_STAFF, "01")
            admin = token("soak.admin", Role.ADMIN, None)
            session.commit()
    finally:
        engine.dispose()
    points = [point for desk in found for point in desk.lens_points]
    lons, lats = [p[0] for p in points], [p[1] for p in points]
    tiles = sorted({tile_of(lon, lat, 14) for lon, lat in points})
    return Registry(database_url, found, staff, admin, (min(lons), min(lats), max(lons), max(lats)), tiles)


# --------------------------------------------------------------------------- processes


class Service:
    """A child process in a process group of its own, writing to `log_path`; stopped by its own id only."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.process: subprocess.Popen | None = None
        self.started_at = 0.0

    def start(self) -> Service:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.started_at = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL, no clean-up: what a crash or the OOM killer does."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM (gunicorn stops its workers, the scheduler gives up its lease), SIGKILL if that takes too long."""
        if not self.alive():
            return
        try:
            os.killpg(self.pid, signal.SIGTERM)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_for_log(self, pattern: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if re.search(pattern, self.log_text()):
                return True
            if not self.alive():
                return False
            time.sleep(0.1)
        return False


def service_env(database_url: str, instance: Path, **settings: str) -> dict[str, str]:
    """The process environment of a service: ours, with the registry's settings replaced."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("NOTIFY_", "SMTP_", "GUNICORN_")) and key not in ("DATABASE_URL", "WEB_CONCURRENCY")
    }
    env.update(
        {
            "DATABASE_URL": database_url,
            "CAMERA_REGISTRY_INSTANCE": str(instance),
            "SECRET_KEY": "soak-secret",
            "PYTHONUNBUFFERED": "1",
            **settings,
        }
    )
    return env


def start_web(
    database_url: str,
    instance: Path,
    log_path: Path,
    port: int | None = None,
    config: Path = GUNICORN_CONF,
    app: str = APP,
    **settings: str,
) -> tuple[Service, str]:
    """gunicorn with `config` on 127.0.0.1; returns once /healthz answers (or raises with the log's tail)."""
    port = port or free_port()
    base_url = f"http://{LOOPBACK}:{port}"
    env = service_env(database_url, instance, BIND=f"{LOOPBACK}:{port}", PUBLIC_BASE_URL=base_url, **settings)
    service = Service("web", [sys.executable, "-m", "gunicorn", "-c", str(config), app], env, log_path).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if not service.alive():
            break
        try:
            if requests.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return service, base_url
        except requests.RequestException:
            pass
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"gunicorn did not come up on {base_url}:\n{service.log_text()[-3000:]}")


def start_scheduler(database_url: str, instance: Path, log_path: Path, **settings: str) -> Service:
    """`camera-registry scheduler` as its own process; returns once it has started its jobs."""
    service = Service(
        "scheduler",
        [console_script("camera-registry"), "scheduler"],
        service_env(database_url, instance, **settings),
        log_path,
    ).start()
    if not service.wait_for_log(r"scheduler \S+ starting", timeout=60):
        service.stop()
        raise RuntimeError(f"the scheduler did not start:\n{service.log_text()[-3000:]}")
    return service


def log_errors(text: str, limit: int = 3) -> list[str]:
    """The last line of each distinct traceback in a service's log, with how often it occurred."""
    endings: Counter = Counter()
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback"):
            for follow in lines[index + 1 :]:
                if follow and not follow.startswith((" ", "\t", "Traceback", "During handling", "The above")):
                    endings[follow[:240]] += 1
                    break
    return [f"{count} x {ending}" for ending, count in endings.most_common(limit)]


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    kind: str  # writer, reader, owner, create, ...
    route: str  # "GET /api/v1/footage-requests/<id>"
    status: int  # 0: no HTTP answer at all (refused, reset, timed out)
    seconds: float
    started: float  # time.monotonic() when sent
    detail: str = ""  # the body's start, kept for server errors only


class Outcomes:
    """Every answer of a load, thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.items: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        with self._lock:
            self.items.append(outcome)

    def snapshot(self) -> list[Outcome]:
        with self._lock:
            return list(self.items)

    @staticmethod
    def is_server_error(outcome: Outcome) -> bool:
        return outcome.status == 0 or outcome.status >= 500

    def server_errors(self) -> list[Outcome]:
        return [item for item in self.snapshot() if self.is_server_error(item)]

    def server_errors_by_route(self) -> Counter:
        return Counter(f"{item.route} -> {item.status or 'no answer'}" for item in self.server_errors())

    def by_kind(self) -> Counter:
        return Counter(item.kind for item in self.snapshot())

    def statuses_by_route(self) -> dict[str, Counter]:
        table: dict[str, Counter] = defaultdict(Counter)
        for item in self.snapshot():
            table[item.route][item.status] += 1
        return dict(sorted(table.items()))

    def summary_lines(self, title: str) -> list[str]:
        items = self.snapshot()
        errors = self.server_errors()
        lines = [
            f"{title}: {len(items)} requests ({', '.join(f'{k} {v}' for k, v in sorted(self.by_kind().items()))}), "
            f"{len(errors)} server errors (5xx or no answer)"
        ]
        for route, statuses in self.statuses_by_route().items():
            lines.append(
                f"  {route}: "
                + ", ".join(f"{status or 'no answer'} x{count}" for status, count in sorted(statuses.items()))
            )
        for route, count in self.server_errors_by_route().most_common():
            lines.append(f"  SERVER ERRORS {route}: {count}")
        for sample in _first_per_route(errors, 3):
            lines.append(f"    e.g. {sample.route} {sample.status}: {sample.detail[:300]!r}")
        return lines


def _first_per_route(items: Iterable[Outcome], count: int) -> list[Outcome]:
    seen: Counter = Counter()
    first = []
    for item in items:
        if seen[item.route] < 1 and len(first) < count * 4:
            first.append(item)
        seen[item.route] += 1
    return first


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of `values` (not sorted in place)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


# --------------------------------------------------------------------------- the mixed load


class Client:
    """One client thread's HTTP session; every answer is recorded as an Outcome."""

    def __init__(self, base_url: str, outcomes: Outcomes, kind: str, headers: dict[str, str] | None = None):
        self.base_url, self.outcomes, self.kind = base_url, outcomes, kind
        self.http = requests.Session()
        self.http.headers.update(headers or {})
        self.http.trust_env = False  # never a proxy: loopback only

    def call(self, method: str, path: str, route: str, **kwargs) -> requests.Response | None:
        started = time.monotonic()
        try:
            response = self.http.request(
                method, self.base_url + path, timeout=CLIENT_TIMEOUT, allow_redirects=False, **kwargs
            )
        except requests.RequestException as error:
            self.outcomes.add(
                Outcome(
                    self.kind,
                    f"{method} {route}",
                    0,
                    time.monotonic() - started,
                    started,
                    f"{type(error).__name__}: {error}",
                )
            )
            return None
        seconds = time.monotonic() - started
        detail = response.text[:500] if response.status_code >= 500 else ""
        self.outcomes.add(Outcome(self.kind, f"{method} {route}", response.status_code, seconds, started, detail))
        return response

    def close(self) -> None:
        self.http.close()


CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
ACTION_FIELD = re.compile(r'name="action"\s+value="(consent|decline|report_no_footage)"')
OWNER_ACTIONS = ("consent", "decline", "report_no_footage")
OWNER_ANSWERS = (
    {"action": "consent", "handover": "police_copy"},
    {"action": "decline"},
    {"action": "report_no_footage", "reason": "camera_off"},
)


@dataclass
class LoadPlan:
    """How many client threads of each kind, and the bounds every loop keeps."""

    seconds: float
    threads: dict[str, int]
    requests_to_create: int = 0  # footage requests the `create` threads file, at most
    create_interval: float = 1.0  # seconds between two requests a `create` thread files
    radius_m: float = 100.0
    think_seconds: float = 0.0  # pause between two calls of one client
    max_calls_per_thread: int = 100_000
    seed: int = 1
    #: Requests due within a day: their ZNS and SMS go at once, quiet hours or not (channels/quiet_hours.py).
    urgent: bool = False
    #: How often an owner who opened their link also changes how they want to be reached (the contact form).
    contact_share: float = 0.0


class MixedLoad:
    """Police writers, readers, owners and request creation against one server, all bounded.

    `owner_links` returns the owner links seen so far (/o/<token> URLs, read by
    the soak test from what the webhook gateway received). Request ids that the
    load creates are shared with the writers, who act on their assignments.
    """

    def __init__(
        self,
        base_url: str,
        registry: Registry,
        plan: LoadPlan,
        outcomes: Outcomes | None = None,
        owner_links: Callable[[], list[str]] = list,
        request_ids: dict[str, list[int]] | None = None,
    ) -> None:
        self.base_url, self.registry, self.plan = base_url, registry, plan
        self.outcomes = outcomes or Outcomes()
        self.owner_links = owner_links
        #: commune code -> ids of the requests its police filed (carried from one phase to the next)
        self.request_ids: dict[str, list[int]] = request_ids if request_ids is not None else {}
        self.created = 0
        self.answered_links: set[str] = set()  # links whose page offers no answer any more
        self.seen_etags: dict[int, str] = {}  # lens id -> an ETag some officer read
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.crashes: list[str] = []  # a client thread's own bug, never the server's: reported, fails the test

    # ------------------------------------------------------------------ running

    def start(self) -> MixedLoad:
        deadline = time.monotonic() + self.plan.seconds
        number = 0
        for kind, count in self.plan.threads.items():
            loop = getattr(self, f"_{kind}")
            for index in range(count):
                number += 1
                rng = random.Random(self.plan.seed * 1000 + number)
                thread = threading.Thread(
                    target=self._run, args=(kind, loop, index, rng, deadline), name=f"load-{kind}-{index}", daemon=True
                )
                self._threads.append(thread)
                thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> None:
        for thread in self._threads:
            thread.join(timeout=self.plan.seconds + 2 * CLIENT_TIMEOUT[1])

    def run(self) -> Outcomes:
        self.start()
        self.join()
        return self.outcomes

    def _run(self, kind: str, loop, index: int, rng: random.Random, deadline: float) -> None:
        desk = self.registry.desks[index % len(self.registry.desks)]
        headers = {"owner": {}, "reader": self.registry.staff_headers if index % 2 else desk.headers}.get(
            kind, desk.headers
        )
        client = Client(self.base_url, self.outcomes, kind, headers)
        try:
            for _ in range(self.plan.max_calls_per_thread):
                if self._stop.is_set() or time.monotonic() >= deadline:
                    break
                if loop(client, desk, rng, deadline) is False:
                    break
                if self.plan.think_seconds:
                    self._stop.wait(self.plan.think_seconds)
        except Exception as error:  # noqa: BLE001 - a bug in the load itself must show, not pass silently
            import traceback

            self.crashes.append(
                f"{threading.current_thread().name}: {type(error).__name__}: {error}\n{traceback.format_exc()}"
            )
        finally:
            client.close()

    # ------------------------------------------------------------------ request creation

    def _create(self, client: Client, desk: Desk, rng: random.Random, deadline: float):
        with self._lock:
            if self.created >= self.plan.requests_to_create:
                return False
            self.created += 1
            number = self.created
        lon, lat = rng.choice(desk.lens_points)
        now = datetime.now(UTC)
        body = {
            "case_ref": f"SOAK-{number:04d}",
            "reason": "Trộm xe máy (soak test)",
            "legal_basis": "Điều 145 Bộ luật Tố tụng hình sự",
            "incident": {
                "type": "Point",
                "coordinates": [lon + rng.uniform(-0.0001, 0.0001), lat + rng.uniform(-0.0001, 0.0001)],
            },
            "window_start": (now - timedelta(hours=3)).isoformat(),
            "window_end": (now - timedelta(hours=2)).isoformat(),
            "radius_m": self.plan.radius_m,
        }
        if self.plan.urgent:
            body["deadline"] = (now + timedelta(hours=20)).isoformat()
        response = client.call("POST", "/api/v1/footage-requests", "/api/v1/footage-requests", json=body)
        if response is not None and response.status_code == 201:
            with self._lock:
                self.request_ids.setdefault(desk.commune_code, []).append(response.json()["id"])
        self._stop.wait(self.plan.create_interval)

    # ------------------------------------------------------------------ police: assignments and registry edits

    def _writer(self, client: Client, desk: Desk, rng: random.Random, deadline: float):
        """Edit a lens, or follow one of the desk's requests and (sometimes) record an answer taken by phone."""
        requests_filed = self.request_ids.get(desk.commune_code)
        if rng.random() < 0.5 or not requests_filed:
            return self._edit_lens(client, desk, rng)
        return self._act_on_assignment(client, rng, requests_filed)

    def _edit_lens(self, client: Client, desk: Desk, rng: random.Random):
        # A few lenses only, so two officers' edits of one lens do meet.
        lens_id = rng.choice(desk.lens_ids[:8])
        got = client.call("GET", f"/api/v1/lenses/{lens_id}", "/api/v1/lenses/<id>")
        if got is None or got.status_code != 200:
            return
        etag = got.headers.get("ETag")
        if etag and rng.random() < 0.3:
            # Sometimes the version another officer read a while ago: a stale write, to be refused with 409.
            etag, self.seen_etags[lens_id] = self.seen_etags.get(lens_id, etag), etag
        elif etag:
            self.seen_etags[lens_id] = etag
        headers = {"If-Match": etag} if etag else {}
        client.call(
            "PATCH",
            f"/api/v1/lenses/{lens_id}",
            "/api/v1/lenses/<id>",
            headers=headers,
            json={"range_m": float(rng.randint(20, 60))},
        )

    def _act_on_assignment(self, client: Client, rng: random.Random, requests_filed: list[int]):
        request_id = rng.choice(requests_filed)
        got = client.call("GET", f"/api/v1/footage-requests/{request_id}", "/api/v1/footage-requests/<id>")
        if got is None or got.status_code != 200 or rng.random() < 0.7:
            return  # most of the time the police only look: the owners answer through their links
        open_ones = [a for a in got.json().get("assignments", []) if a.get("allowed_actions")]
        if not open_ones:
            return
        assignment = rng.choice(open_ones)
        action = rng.choice(assignment["allowed_actions"])
        if action in OWNER_ACTIONS and rng.random() < 0.75:
            return  # answers taken by phone are the exception: leave most of them to the owners' links
        body = {"version": assignment["version"]}
        if action == "consent":
            body["handover"] = "police_copy"
        elif action == "receive_footage":
            evidence = f"soak-{assignment['id']}"
            body.update(evidence_ref=evidence, evidence_sha256=hashlib.sha256(evidence.encode()).hexdigest())
        client.call(
            "POST", f"/api/v1/assignments/{assignment['id']}/{action}", f"/api/v1/assignments/<id>/{action}", json=body
        )

    # ------------------------------------------------------------------ readers

    def _reader(self, client: Client, desk: Desk, rng: random.Random, deadline: float):
        min_lon, min_lat, max_lon, max_lat = self.registry.bbox
        choice = rng.randrange(8)
        if choice == 0:
            client.call(
                "GET", f"/api/v1/footage-requests?page={rng.randint(1, 2)}&page_size=20", "/api/v1/footage-requests"
            )
        elif choice == 1:
            client.call("GET", "/requests", "/requests")
        elif choice == 2 and self.request_ids.get(desk.commune_code):
            request_id = rng.choice(self.request_ids[desk.commune_code])
            client.call("GET", f"/requests/{request_id}", "/requests/<id>", headers=desk.headers)
        elif choice == 3:
            client.call("GET", f"/api/v1/owners?page={rng.randint(1, 3)}&page_size=20", "/api/v1/owners")
        elif choice == 4:
            client.call("GET", "/api/v1/stats/admin-units", "/api/v1/stats/admin-units")
        elif choice == 5:
            lon, lat = rng.choice(desk.lens_points)
            bbox = f"{lon - 0.004},{lat - 0.003},{lon + 0.004},{lat + 0.003}"
            client.call("GET", f"/api/v1/map/lenses?bbox={bbox}&zoom=16", "/api/v1/map/lenses")
        elif choice == 6:
            bbox = f"{min_lon},{min_lat},{max_lon},{max_lat}"
            client.call("GET", f"/api/v1/map/communes?bbox={bbox}&zoom=12", "/api/v1/map/communes")
        else:
            z, x, y = rng.choice(self.registry.tiles)
            client.call("GET", f"/tiles/lenses/{z}/{x}/{y}.mvt", "/tiles/lenses/<z>/<x>/<y>.mvt")

    # ------------------------------------------------------------------ owners through their links

    def _owner(self, client: Client, desk: Desk, rng: random.Random, deadline: float):
        """Open a link (mostly one still to answer) and, more often than not, answer it."""
        links = [link for link in self.owner_links() if link.startswith(f"{self.base_url}/o/")]
        if not links:
            self._stop.wait(0.2)  # nothing delivered yet: look again shortly
            return
        open_links = [link for link in links if link not in self.answered_links]
        path = rng.choice(open_links if open_links and rng.random() < 0.8 else links)[len(self.base_url) :]
        page = client.call("GET", path, "/o/<token>")
        if page is None or page.status_code != 200:
            return
        token = CSRF_FIELD.search(page.text)
        offered = set(ACTION_FIELD.findall(page.text))
        answers = [answer for answer in OWNER_ANSWERS if answer["action"] in offered]
        if token is not None and rng.random() < self.plan.contact_share:
            choice = {"action": "contact_preferences", "channel": rng.choice(["", "zns", "sms"])}
            client.call("POST", f"{path}/contact", "/o/<token>/contact", data={"csrf_token": token.group(1), **choice})
        if token is None or not answers:
            self.answered_links.add(self.base_url + path)
            return
        if rng.random() < 0.4:
            return  # a view only
        client.call("POST", path, "/o/<token>", data={"csrf_token": token.group(1), **rng.choice(answers)})


__all__ = [
    "Client",
    "Desk",
    "LoadPlan",
    "MixedLoad",
    "Outcome",
    "Outcomes",
    "Registry",
    "Service",
    "free_port",
    "log_errors",
    "percentile",
    "prepare_registry",
    "start_scheduler",
    "start_web",
    "tile_of",
]
