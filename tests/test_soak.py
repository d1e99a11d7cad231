"""Soak: the real service under gunicorn and the scheduler, driven together, on the run's backend (issues 9, 13).

One fresh database with the bundled sample. gunicorn serves the app with the
deploy settings for the backend (deploy/gunicorn.conf.py) on 127.0.0.1; the
scheduler runs as its own process (`camera-registry scheduler`) and delivers
by Zalo ZNS and eSMS brandname SMS to the local provider simulators
(tests/provider_simulators.py), and by e-mail to a local SMTP server. A
quarter of the owners' phones are "not on Zalo" (ZNS -114): their ZNS fails
and the SMS goes instead. Client threads file footage requests (urgent, so
their messages go at once at any hour, quiet hours or not), act on
assignments and edit lenses as the police, read lists, pages, figures, map
data and tiles, and open and answer the owner links that reached the
providers, sometimes changing how they want to be reached. Meanwhile the
providers' delivery receipts come back to the app's /hooks/ routes as the
providers send them (ZNS's signed event, eSMS's callback URL; some twice,
some SMS reported failed, which sends the e-mail), and the OA access token
expires once, so the deliverer refreshes it under load.

Phase 1: 0 server errors, every outbox message settled (delivered, failed
with its fallback, or an e-mail sent) and taken by its provider once: by
tracking_id at ZNS, by RequestId at eSMS, by key at SMTP; each sent message's
provider message id is one the provider gave for that key; no receipt refused.
Phase 2: the same load; the scheduler is SIGKILLed while a batch is claimed and
one of its messages is at a provider unanswered, and started again; the load
goes on while it recovers. Every message must settle within 2 minutes of the
kill; a key may reach a provider twice only if its message was in flight at the
kill, and no more of them than were (eSMS recognises the repeated RequestId:
code 124, no second SMS; ZNS does not). The restarted scheduler sends with the
token pair the first one stored (a spent refresh token would end its ZNS dead),
and can send the dead one's claims only once they run out, so that lease, not
the load, sets how long this phase takes: the scheduler runs with a 20 s claim
lease and a 10 s jobs lease (NOTIFY_CLAIM_LEASE_SECONDS, SCHEDULER_LEASE_SECONDS;
90 s and 60 s by default).

Every loop is bounded in count and time. The figures are printed to the
terminal even when pytest captures output, so CI logs show them.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import requests
from notify_support import SmtpReceiver
from provider_simulators import EsmsSimulator, ZnsSimulator
from soak_support import (
    LoadPlan,
    MixedLoad,
    Outcomes,
    free_port,
    log_errors,
    prepare_registry,
    start_scheduler,
    start_web,
)
from sqlalchemy import select

from camera_registry.db import make_engine
from camera_registry.models import Channel, MessageStatus, OutboxMessage, Owner, ProviderToken
from camera_registry.models.base import utcnow
from camera_registry.services.channels.phones import normalise_phone
from camera_registry.services.channels.templates import ZNS_KINDS, registered_sms_templates

THREADS = {"create": 1, "writer": 2, "reader": 3, "owner": 2}
PHASE_1 = LoadPlan(
    seconds=20,
    threads=THREADS,
    requests_to_create=10,
    create_interval=1.5,
    think_seconds=0.05,
    seed=1,
    urgent=True,
    contact_share=0.1,
)
#: After the load stops, the scheduler (deliver_outbox every 5 s) and the receipts have this long to settle what is
#: left.
DRAIN_SECONDS = 45
#: The issue's bound: every message of a killed deliverer arrives within 2 minutes of the kill.
RECOVERY_SECONDS = 120
#: Phase 2's load goes on while the restarted scheduler recovers, and stops this long after the last message
#: settled (owners open the links it delivered); `seconds` is only its outer bound.
OWNER_GRACE_SECONDS = 5
PHASE_2 = LoadPlan(
    seconds=DRAIN_SECONDS + RECOVERY_SECONDS + OWNER_GRACE_SECONDS,
    threads=THREADS,
    requests_to_create=8,
    create_interval=0.5,
    think_seconds=0.1,
    seed=2,
    urgent=True,
    contact_share=0.1,
)
#: Short leases, so the restarted scheduler takes over in seconds (the defaults would make phase 2 last 90 s).
CLAIM_LEASE_SECONDS, JOBS_LEASE_SECONDS = 20, 10
#: A kill counts as mid-batch when this many messages are claimed and unsettled (the one at the provider included).
MID_BATCH = 2
#: Seconds into phase 1 when Zalo's access token expires (25 hours pass): the deliverer refreshes it.
TOKEN_EXPIRES_AFTER = 5
#: Every this many owners' phones are not on Zalo (ZNS -114); every this many SMS receipts report a failure; every
#: this many receipts are sent twice.
NOT_ON_ZALO_EVERY, FAILED_SMS_EVERY, REPEATED_RECEIPT_EVERY = 4, 7, 5
#: A provider sends a receipt it got no answer for (within provider_simulators.TIMEOUT) this many times in all.
RECEIPT_TRIES = 5
SETTLED = {
    Channel.ZNS: {MessageStatus.DELIVERED, MessageStatus.FAILED},
    Channel.SMS: {MessageStatus.DELIVERED, MessageStatus.FAILED},
    Channel.EMAIL: {MessageStatus.SENT},
}
LINK = re.compile(r"https?://\S+/o/[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Stored:
    """One outbox message as the database has it."""

    channel: Channel
    status: MessageStatus
    leased_until: datetime | None
    attempts: int
    provider_message_id: str | None
    next_attempt_at: datetime

    def waits_for_the_morning(self, now: datetime) -> bool:
        """A reminder or renewal invitation queued in the quiet hours (22:00-07:00 in Vietnam) waits by design."""
        return self.status == MessageStatus.PENDING and self.attempts == 0 and self.next_attempt_at > now


def outbox(engine) -> dict[str, Stored]:
    """idempotency key -> every outbox message."""
    with engine.connect() as connection:
        rows = connection.execute(
            select(
                OutboxMessage.idempotency_key,
                OutboxMessage.channel,
                OutboxMessage.status,
                OutboxMessage.leased_until,
                OutboxMessage.attempts,
                OutboxMessage.provider_message_id,
                OutboxMessage.next_attempt_at,
            )
        ).all()
    return {key: Stored(*rest) for key, *rest in rows}


def in_flight(engine) -> set[str]:
    """Keys claimed by a deliverer and not yet settled."""
    now = utcnow()
    return {
        key
        for key, stored in outbox(engine).items()
        if stored.status == MessageStatus.PENDING and stored.leased_until is not None and stored.leased_until > now
    }


class Providers:
    """Zalo ZNS, eSMS and the SMTP server the scheduler delivers to."""

    def __init__(self) -> None:
        self.zns = ZnsSimulator()
        self.esms = EsmsSimulator(registered_sms_templates())
        self.smtp = SmtpReceiver(free_port())

    def settings(self) -> dict[str, str]:
        zns, esms = self.zns, self.esms
        return {
            "CHANNEL_ZNS_APP_ID": zns.app_id,
            "CHANNEL_ZNS_SECRET_KEY": zns.secret_key,
            "CHANNEL_ZNS_OA_SECRET_KEY": zns.oa_secret_key,
            "CHANNEL_ZNS_ACCESS_TOKEN": zns.access_token,
            "CHANNEL_ZNS_REFRESH_TOKEN": zns.refresh_token,
            "CHANNEL_ZNS_BASE_URL": zns.url,
            "CHANNEL_ZNS_OAUTH_URL": zns.url,
            **{f"CHANNEL_ZNS_TEMPLATE_{kind.name}": f"soak-{kind.name.lower()}" for kind in ZNS_KINDS},
            "CHANNEL_ESMS_API_KEY": esms.api_key,
            "CHANNEL_ESMS_SECRET_KEY": esms.secret_key,
            "CHANNEL_ESMS_BRANDNAME": esms.brandname,
            "CHANNEL_ESMS_BASE_URL": esms.url,
            "CHANNEL_ESMS_CALLBACK_SECRET": "soak-callback-secret",
            "SMTP_HOST": self.smtp.host,
            "SMTP_PORT": str(self.smtp.port),
        }

    def taken(self) -> Counter:
        """How many messages each key became at its provider: ZNS by tracking_id (Zalo takes a repeat as a second
        message), eSMS by RequestId (a repeat is answered 124: no second SMS), SMTP by key."""
        zns = Counter(body["tracking_id"] for body in self.zns.accepted().values())
        esms = Counter(body["RequestId"] for body in self.esms.accepted().values())
        return zns + esms + self.smtp.idempotency_keys()

    def arrivals(self) -> Counter:
        """How many times each key reached a provider as a message: repeats eSMS recognised (124) included, ZNS
        sends Zalo refused (an expired token, -114) not, since they reach no phone."""
        zns = Counter(body["tracking_id"] for body in self.zns.accepted().values())
        esms = Counter(request.json()["RequestId"] for request in self.esms.requests_to(self.esms.path))
        return zns + esms + self.smtp.idempotency_keys()

    def provider_ids(self) -> dict[str, set[str]]:
        """key -> the message ids the providers gave it."""
        ids: dict[str, set[str]] = {}
        for msg_id, body in self.zns.accepted().items():
            ids.setdefault(body["tracking_id"], set()).add(msg_id)
        for sms_id, body in self.esms.accepted().items():
            ids.setdefault(body["RequestId"], set()).add(sms_id)
        return ids

    def owner_links(self) -> list[str]:
        links = [body["template_data"]["link"] for body in self.zns.accepted().values()]
        links += [match.group(0) for body in self.esms.accepted().values() for match in LINK.finditer(body["Content"])]
        return links

    def close(self) -> None:
        self.zns.close()
        self.esms.close()
        self.smtp.close()


class Receipts:
    """The providers' delivery receipts for every message they took, sent back as they send them, from a thread of
    its own: ZNS's signed `user_received_message` to /hooks/zns, eSMS's callback to the message's CallbackUrl.
    Some go twice (providers repeat), some SMS are reported failed; one answered 409 (its send was not recorded
    yet) or not answered within the provider's timeout is sent again later, as the providers do, up to
    RECEIPT_TRIES times: a slow answer under load is counted ("no answer"), not refused."""

    def __init__(self, providers: Providers, base_url: str) -> None:
        self.providers, self.base_url = providers, base_url
        self.done: set[str] = set()
        self.answers: Counter = Counter()
        self.refused: list[str] = []  # answers no provider should ever get: 4xx but 409, 5xx, none after retries
        self._unanswered: Counter = Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="receipts", daemon=True)

    def start(self) -> Receipts:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._send_new()
            self._stop.wait(0.3)

    def _send_new(self) -> None:
        zns, esms = self.providers.zns, self.providers.esms
        pending = [("zns", msg_id) for msg_id in zns.accepted()] + [("esms", sms_id) for sms_id in esms.accepted()]
        for provider, message_id in pending:
            if message_id in self.done:
                continue
            number = len(self.done) + 1
            statuses = []
            for _ in range(2 if number % REPEATED_RECEIPT_EVERY == 0 else 1):
                try:
                    if provider == "zns":
                        event = zns.event(message_id, int(time.time() * 1000))
                        status = zns.post_event(f"{self.base_url}/hooks/zns", event)
                    else:
                        status = esms.deliver(message_id, delivered=number % FAILED_SMS_EVERY != 0)
                except requests.RequestException as error:
                    status = 0
                    self._unanswered[message_id] += 1
                    if self._unanswered[message_id] >= RECEIPT_TRIES:
                        self.refused.append(f"{provider} {message_id}: {RECEIPT_TRIES} tries, {type(error).__name__}")
                statuses.append(status)
                self.answers[(provider, status)] += 1
            if statuses[0] == 200 or (statuses[0] == 0 and self._unanswered[message_id] >= RECEIPT_TRIES):
                self.done.add(message_id)
            elif statuses[0] not in (0, 409):
                self.refused.append(f"{provider} {message_id}: HTTP {statuses[0]}")
                self.done.add(message_id)

    def summary(self) -> str:
        return ", ".join(
            f"{provider} {status or 'no answer'} x{count}" for (provider, status), count in sorted(self.answers.items())
        )


class MidBatchKill:
    """SIGKILLs the scheduler from inside a provider, once armed, while it waits for the provider's answer."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.scheduler = None
        self.armed = False
        self.killed = threading.Event()
        self.in_flight: set[str] = set()
        self.at_provider: str | None = None
        self.killed_at = 0.0
        self._lock = threading.Lock()

    def __call__(self, received) -> None:
        if not self.armed or self.killed.is_set() or received.path == "/v4/oa/access_token":
            return
        if len(in_flight(self.engine)) < MID_BATCH:
            return  # the last of its batch: not mid-batch yet
        with self._lock:
            if self.killed.is_set():
                return
            self.scheduler.kill()
            self.killed_at = time.monotonic()
            body = received.json()
            self.at_provider = body.get("tracking_id") or body.get("RequestId")
            self.in_flight = in_flight(self.engine)  # nobody settles anything now
            self.killed.set()


def is_settled(key: str, stored: Stored, taken: Counter, now: datetime) -> bool:
    if stored.waits_for_the_morning(now):
        return True
    return stored.status in SETTLED[stored.channel] and (stored.status == MessageStatus.FAILED or taken[key] >= 1)


def wait_until_settled(engine, providers: Providers, deadline: float) -> tuple[bool, dict, Counter]:
    """Poll (every 0.5 s, until `deadline`) until every message is settled and each sent one reached its provider."""
    while True:
        messages, taken, now = outbox(engine), providers.taken(), utcnow()
        done = bool(messages) and all(is_settled(key, stored, taken, now) for key, stored in messages.items())
        if done or time.monotonic() >= deadline:
            return done, messages, taken
        time.sleep(0.5)


def unsettled(messages: dict[str, Stored], taken: Counter) -> list[str]:
    now = utcnow()
    return sorted(
        f"{key} ({stored.channel.value} {stored.status.value}, attempts {stored.attempts}, "
        f"leased until {stored.leased_until}, taken {taken[key]})"
        for key, stored in messages.items()
        if not is_settled(key, stored, taken, now)
    )


def lost(messages: dict[str, Stored], providers: Providers) -> list[str]:
    """Sent ZNS and SMS whose provider message id is none the provider gave their key (an SMS eSMS answered 124 to
    keeps no id), and failed ZNS whose SMS or e-mail was never queued."""
    ids = providers.provider_ids()
    problems = [
        f"{key}: provider id {stored.provider_message_id} not among {sorted(ids.get(key, ()))}"
        for key, stored in messages.items()
        if stored.channel in (Channel.ZNS, Channel.SMS)
        and stored.provider_message_id is not None
        and stored.provider_message_id not in ids.get(key, ())
    ]
    fallbacks = {key.rsplit(":", 1)[0] for key, stored in messages.items() if stored.channel != Channel.ZNS}
    problems += [
        f"{key}: failed with no fallback"
        for key, stored in messages.items()
        if stored.channel == Channel.ZNS
        and stored.status == MessageStatus.FAILED
        and key.rsplit(":", 1)[0] not in fallbacks
    ]
    return problems


def message_summary(messages: dict[str, Stored], taken: Counter, arrivals: Counter) -> str:
    statuses = Counter(f"{stored.channel.value} {stored.status.value}" for stored in messages.values())
    waiting = sum(stored.waits_for_the_morning(utcnow()) for stored in messages.values())
    twice = {key: count for key, count in taken.items() if count > 1}
    return (
        f"{len(messages)} outbox messages ({', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}; "
        f"{waiting} waiting for 07:00); {sum(arrivals.values())} arrivals of {len(arrivals)} keys at the providers, "
        f"{sum(taken.values())} messages taken; {len(twice)} keys taken more than once"
    )


def not_on_zalo(database_url: str) -> dict[str, int]:
    """Every NOT_ON_ZALO_EVERY-th owner's phone (normalised), to be answered ZNS -114."""
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            phones = connection.scalars(select(Owner.phone).where(Owner.phone.is_not(None)).order_by(Owner.id)).all()
    finally:
        engine.dispose()
    return {normalise_phone(phone): -114 for phone in phones[::NOT_ON_ZALO_EVERY]}


def stored_token_pair(engine) -> tuple[str, str] | None:
    with engine.connect() as connection:
        row = connection.execute(
            select(ProviderToken.access_token, ProviderToken.refresh_token).where(ProviderToken.provider == "zns")
        ).first()
    return tuple(row) if row else None


@pytest.fixture()
def soak_registry(database_server):
    url = database_server.new_database("soak")
    try:
        yield prepare_registry(url)
    finally:
        database_server.drop_database(url)


def test_soak(soak_registry, backend, capsys):
    registry = soak_registry
    work = Path(tempfile.mkdtemp(prefix="cr_soak_"))
    engine = make_engine(registry.database_url)
    providers = Providers()
    providers.zns.phone_errors.update(not_on_zalo(registry.database_url))
    kill = MidBatchKill(engine)
    providers.zns.on_receive = providers.esms.on_receive = kill
    settings = {
        **providers.settings(),
        "NOTIFY_BACKOFF_SECONDS": "1",
        # Every owner thread shares 127.0.0.1: the per-address link limit is not under test here.
        "OWNER_LINK_RATE_LIMIT": "100000/minute",
    }
    web = scheduler = receipts = None
    failures: list[str] = []
    report: list[str] = [f"=== soak on {backend} ==="]
    try:
        web, base_url = start_web(registry.database_url, work / "instance", work / "web.log", **settings)
        receipts = Receipts(providers, base_url).start()
        scheduler_settings = {
            **settings,
            "PUBLIC_BASE_URL": base_url,
            "NOTIFY_CLAIM_LEASE_SECONDS": str(CLAIM_LEASE_SECONDS),
            "SCHEDULER_LEASE_SECONDS": str(JOBS_LEASE_SECONDS),
        }
        scheduler = start_scheduler(
            registry.database_url, work / "instance", work / "scheduler-1.log", **scheduler_settings
        )
        kill.scheduler = scheduler
        request_ids: dict[str, list[int]] = {}

        # ---------------------------------------------------------------- phase 1: everything together
        phase_1 = Outcomes()
        expiry = threading.Timer(TOKEN_EXPIRES_AFTER, providers.zns.expire_access_token)
        expiry.start()
        load = MixedLoad(base_url, registry, PHASE_1, phase_1, providers.owner_links, request_ids)
        load.run()
        expiry.cancel()
        delivered, messages, taken = wait_until_settled(engine, providers, time.monotonic() + DRAIN_SECONDS)
        arrivals = providers.arrivals()
        refreshes = len(providers.zns.requests_to("/v4/oa/access_token"))
        report += phase_1.summary_lines("phase 1 (scheduler running)")
        report.append(f"  messages: {message_summary(messages, taken, arrivals)}")
        report.append(f"  receipts: {receipts.summary()}; ZNS token refreshes: {refreshes}")
        twice_1 = {key: count for key, count in arrivals.items() if count > 1}
        if phase_1.server_errors():
            failures.append(
                f"phase 1: {len(phase_1.server_errors())} server errors: {dict(phase_1.server_errors_by_route())}"
            )
        if not delivered:
            missing = unsettled(messages, taken)
            failures.append(
                f"phase 1: {len(missing)} messages not settled {DRAIN_SECONDS} s after the load: {missing[:10]}"
            )
        if twice_1:
            failures.append(f"phase 1: keys that reached a provider more than once: {twice_1}")
        if refreshes != 1 or stored_token_pair(engine) != (providers.zns.access_token, providers.zns.refresh_token):
            failures.append(f"phase 1: {refreshes} ZNS token refreshes (1 expected), or the new pair not stored")
        if not scheduler.alive():
            failures.append("phase 1: the scheduler process died")
        phase_1_messages = len(messages)

        # ---------------------------------------------------------------- phase 2: the scheduler killed mid-batch
        phase_2 = Outcomes()
        kill.armed = True
        load_2 = MixedLoad(base_url, registry, PHASE_2, phase_2, providers.owner_links, request_ids).start()
        restarted = None
        if kill.killed.wait(timeout=DRAIN_SECONDS):
            restarted = start_scheduler(
                registry.database_url, work / "instance", work / "scheduler-2.log", **scheduler_settings
            )
        if restarted is None:
            failures.append(f"phase 2: the scheduler was never caught with {MID_BATCH}+ messages claimed")
            recovered, messages, taken = False, outbox(engine), providers.taken()
        else:
            recovered, messages, taken = wait_until_settled(engine, providers, kill.killed_at + RECOVERY_SECONDS)
        recovery_seconds = time.monotonic() - kill.killed_at if kill.killed_at else float("nan")
        if recovered:
            time.sleep(OWNER_GRACE_SECONDS)  # the owners of the messages delivered last open and answer them
        load_2.stop()
        load_2.join()
        receipts.stop()
        messages, taken, arrivals = outbox(engine), providers.taken(), providers.arrivals()
        twice_2 = {key: count for key, count in arrivals.items() if count > 1 and key not in twice_1}
        repeats = sum(count - 1 for count in twice_2.values())
        report += phase_2.summary_lines("phase 2 (scheduler SIGKILLed mid-batch, restarted)")
        report.append(
            f"  messages: {message_summary(messages, taken, arrivals)} "
            f"({len(messages) - phase_1_messages} new in phase 2)"
        )
        report.append(f"  receipts: {receipts.summary()}")
        report.append(
            f"  kill: {len(kill.in_flight)} messages in flight (claimed, unsettled), "
            f"{kill.at_provider} at its provider unanswered; claim lease {CLAIM_LEASE_SECONDS} s; "
            f"{'all settled' if recovered else 'NOT all settled'} "
            f"{recovery_seconds:.1f} s after the kill"
        )
        report.append(f"  repeats after the kill: {repeats} repeated arrivals of {len(twice_2)} keys: {twice_2}")
        if phase_2.server_errors():
            failures.append(
                f"phase 2: {len(phase_2.server_errors())} server errors: {dict(phase_2.server_errors_by_route())}"
            )
        if restarted is not None and not recovered:
            missing = unsettled(messages, taken)
            failures.append(
                f"phase 2: {len(missing)} messages not settled {RECOVERY_SECONDS} s after the kill "
                f"(claim lease {CLAIM_LEASE_SECONDS} s): {missing[:10]}"
            )
        if set(twice_2) - kill.in_flight:
            failures.append(
                f"phase 2: keys repeated that were not in flight at the kill: {sorted(set(twice_2) - kill.in_flight)}"
            )
        if repeats > len(kill.in_flight):
            failures.append(f"phase 2: {repeats} repeated arrivals, more than the {len(kill.in_flight)} in flight")
        taken_twice = {key for key, count in taken.items() if count > 1}
        if taken_twice - kill.in_flight:
            failures.append(f"messages taken twice by a provider: {sorted(taken_twice - kill.in_flight)[:5]}")
        if lost(messages, providers):
            failures.append(f"lost messages: {lost(messages, providers)[:5]}")
        if receipts.refused:
            failures.append(f"receipts refused: {receipts.refused[:5]}")
        crashes = load.crashes + load_2.crashes
        if crashes:
            failures.append(f"the load's own client threads crashed (a bug in the test): {crashes[:2]}")
        unknown = set(arrivals) - set(messages)
        if unknown:
            failures.append(f"keys at the providers that are not in the outbox: {sorted(unknown)[:5]}")
        for service in (web, scheduler, restarted):
            if service is not None:
                for line in log_errors(service.log_text()):
                    report.append(f"  {service.log_path.name}: {line}")
        scheduler = restarted or scheduler
    finally:
        if receipts is not None:
            receipts.stop()
        for service in (scheduler, kill.scheduler, web):
            if service is not None:
                service.stop()
        providers.close()
        engine.dispose()
        with capsys.disabled():  # the figures belong in CI's log whether the test passes or not
            print("\n" + "\n".join(report + [f"  FAILED: {failure}" for failure in failures]), flush=True)
        keep = failures and Path("build").is_dir()
        if keep:  # the service logs, for the evidence (CI keeps build/)
            target = Path("build") / f"soak-{backend}"
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(work, target, ignore=shutil.ignore_patterns("*.sqlite*", "clips"))
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
