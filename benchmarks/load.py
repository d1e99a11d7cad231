"""Mixed read/write load under gunicorn per backend, beside a hello endpoint under the same settings (issue 9).

    python -m benchmarks.load                    # 45 s per load, both backends
    python -m benchmarks.load --full             # 120 s per load (the issue's measurement)
    python -m benchmarks.load --backend spatialite --sizes 3x2,5x4   # compare worker x thread counts
    python -m benchmarks.load --record           # also write its section of benchmarks/RESULTS.md

Per backend: a fresh database with the bundled sample; gunicorn with
deploy/gunicorn.conf.py (its worker and thread counts for the backend, or
--sizes); the scheduler beside it, delivering to a local gateway and SMTP
server. For each size, alternately: the hello app (benchmarks/hello.py) under
the same gunicorn settings, then the registry under the mixed load, 40
clients each. The mixed load is the soak test's (tests/soak_support.py):
police filing requests, editing lenses and recording answers; staff and
police reading request lists and pages, owners, figures, map data and tiles;
owners opening and answering their links. Clients are Python threads on
this machine, talking to 127.0.0.1 only; each waits for its answer before
sending again (closed loop, no think time).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))  # the soak test's load and gateways, shared rather than copied

from notify_support import SmtpReceiver, WebhookReceiver  # noqa: E402
from soak_support import (  # noqa: E402
    Client,
    LoadPlan,
    MixedLoad,
    Outcomes,
    free_port,
    log_errors,
    percentile,
    prepare_registry,
    start_scheduler,
    start_web,
)

from .harness import Figure, fresh_database, reachable_backends  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SECTION = "## Mixed load under gunicorn (issue 9)"
CLIENTS = 40
SECONDS, FULL_SECONDS = 45, 120
#: 40 clients: who does what.
MIX = {"create": 2, "writer": 10, "reader": 20, "owner": 8}
TARGET = (
    "Target (issue 9): 0 server errors (HTTP 5xx or no answer) on both backends; throughput is the performance issue's."
)


@dataclass
class Figures:
    backend: str
    size: str  # "5x4": workers x threads
    load: str  # "hello" or "mixed"
    outcomes: Outcomes
    seconds: float

    @property
    def line(self) -> str:
        items = self.outcomes.snapshot()
        latencies = [item.seconds * 1000 for item in items]
        errors = len(self.outcomes.server_errors())
        client_errors = sum(1 for item in items if 400 <= item.status < 500)
        return (
            f"| {self.backend} | {self.size} | {self.load} | {len(items):,} | {len(items) / self.seconds:.1f} | "
            f"{percentile(latencies, 0.50):.1f} | {percentile(latencies, 0.95):.1f} | "
            f"{percentile(latencies, 0.99):.1f} | {errors} | {client_errors} |"
        )


HEADER = [
    "| backend | gunicorn workers x threads | load | requests | req/s | p50 ms | p95 ms | p99 ms | "
    "server errors | 4xx |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]


def hello_load(base_url: str, seconds: float, clients: int = CLIENTS) -> tuple[Outcomes, float]:
    """`clients` threads GET / from the hello app for `seconds`."""
    return closed_loop(base_url, seconds, clients, lambda client, number, rng: client.call("GET", "/", "/hello"))


def closed_loop(
    base_url: str,
    seconds: float,
    clients: int,
    step: Callable[[Client, int, random.Random], object],
    headers: Callable[[int], dict[str, str]] = lambda number: {},
) -> tuple[Outcomes, float]:
    """`clients` threads, each calling `step(client, its number, its random)` until `seconds` are up."""
    outcomes = Outcomes()
    deadline = time.monotonic() + seconds

    def loop(number: int) -> None:
        client, rng = Client(base_url, outcomes, "load", headers(number)), random.Random(number)
        try:
            for _ in range(10_000_000):
                if time.monotonic() >= deadline:
                    break
                step(client, number, rng)
        finally:
            client.close()

    threads = [threading.Thread(target=loop, args=(number,), daemon=True) for number in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 120)
    return outcomes, time.monotonic() - start


def mixed_plan(seconds: float) -> LoadPlan:
    # Each `create` client files a request every 2 s: about `seconds` requests in all, routed at 100 m.
    return LoadPlan(seconds=seconds, threads=MIX, requests_to_create=int(seconds), create_interval=2.0, seed=9)


def sizes_of(text: str | None) -> list[tuple[int, int] | None]:
    """'3x2,5x4' -> [(3, 2), (5, 4)]; None: the deploy settings only."""
    if not text:
        return [None]
    sizes = []
    for part in text.split(","):
        workers, _, threads = part.strip().partition("x")
        sizes.append((int(workers), int(threads or 1)))
    return sizes


def deploy_size(backend: str) -> str:
    """The deploy settings' workers x threads for `backend`, as gunicorn will compute them."""
    namespace: dict = {}
    env = {"DATABASE_URL": "postgresql://" if backend == "postgis" else "sqlite://"}
    saved = {key: os.environ.pop(key, None) for key in ("DATABASE_URL", "WEB_CONCURRENCY", "GUNICORN_THREADS")}
    try:
        os.environ.update(env)
        exec(compile((REPO / "deploy" / "gunicorn.conf.py").read_text(), "gunicorn.conf.py", "exec"), namespace)
    finally:
        os.environ.pop("DATABASE_URL", None)
        os.environ.update({key: value for key, value in saved.items() if value is not None})
    return f"{namespace['workers']}x{namespace['threads']}"


def bench_backend(backend: str, seconds: float, sizes: list, rounds: int, log_dir: Path) -> list[Figures]:
    figures: list[Figures] = []
    with fresh_database(backend) as engine:
        url = engine.url.render_as_string(hide_password=False)
        registry = prepare_registry(url)
        webhook, smtp = WebhookReceiver(), SmtpReceiver(free_port())
        work = Path(tempfile.mkdtemp(prefix=f"cr-bench-load-{backend}-"))
        settings = {
            "NOTIFY_WEBHOOK_URL": webhook.url,
            "NOTIFY_WEBHOOK_SECRET": "bench",
            "SMTP_HOST": smtp.host,
            "SMTP_PORT": str(smtp.port),
            "OWNER_LINK_RATE_LIMIT": "1000000/minute",
        }
        port = free_port()
        scheduler = start_scheduler(
            url,
            work / "instance",
            log_dir / f"{backend}-scheduler.log",
            PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
            **settings,
        )
        request_ids: dict[str, list[int]] = {}

        def owner_links() -> list[str]:
            return [link for received in webhook.snapshot() if (link := received.json().get("data", {}).get("link"))]

        try:
            for size in sizes:
                size_env = {"WEB_CONCURRENCY": str(size[0]), "GUNICORN_THREADS": str(size[1])} if size else {}
                label = f"{size[0]}x{size[1]}" if size else f"{deploy_size(backend)} (deploy)"
                tag = label.split()[0]
                for _ in range(rounds):
                    # hello first, then the registry: the same settings, alternately, in one run
                    web, base_url = start_web(
                        url,
                        work / "instance",
                        log_dir / f"{backend}-{tag}-hello.log",
                        port=port,
                        app="benchmarks.hello:app",
                        **settings,
                        **size_env,
                    )
                    try:
                        outcomes, elapsed = hello_load(base_url, seconds)
                    finally:
                        web.stop()
                    figures.append(Figures(backend, label, "hello", outcomes, elapsed))
                    print(figures[-1].line, flush=True)
                    web, base_url = start_web(
                        url,
                        work / "instance",
                        log_dir / f"{backend}-{tag}-mixed.log",
                        port=port,
                        **settings,
                        **size_env,
                    )
                    try:
                        outcomes = Outcomes()
                        load = MixedLoad(base_url, registry, mixed_plan(seconds), outcomes, owner_links, request_ids)
                        start = time.monotonic()
                        load.run()
                        elapsed = time.monotonic() - start
                    finally:
                        web.stop()
                    figures.append(Figures(backend, label, "mixed", outcomes, elapsed))
                    print(figures[-1].line, flush=True)
                    if load.crashes:
                        print(f"  load client crashed: {load.crashes[0]}", flush=True)
                    for route, count in outcomes.server_errors_by_route().most_common(8):
                        print(f"  server errors {route}: {count}", flush=True)
                    for line in log_errors(web.log_text()):
                        print(f"  gunicorn log: {line}", flush=True)
        finally:
            scheduler.stop()
            webhook.close()
            smtp.close()
            shutil.rmtree(work, ignore_errors=True)
    return figures


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def machine() -> str:
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip() or str(os.cpu_count())
    return f"{platform.node()}, `nproc` {nproc}, `uname -m` {platform.machine()}, Python {platform.python_version()}"


def section(lines: list[str], seconds: float, before: str, after: str, command: str) -> str:
    return "\n".join(
        [
            SECTION,
            "",
            f"Measured {date.today().isoformat()} on {machine()} with `{command}`: {CLIENTS} clients for {seconds:g} s "
            f"per load. Load average (1, 5, 15 min) before: {before}; after: {after}.",
            "",
            TARGET,
            "",
            "`hello` is benchmarks/hello.py under the same gunicorn settings: the ceiling of this machine, gunicorn "
            "and "
            "the Python load generator together. `mixed` is the soak test's mix (tests/soak_support.py) with the "
            "scheduler delivering beside it. 4xx are expected answers (404 outside a desk's reach, 409 conflicts "
            "between officers and owners answering at once), not errors.",
            "",
            *HEADER,
            *lines,
            "",
        ]
    )


def record(text: str, path: Path = RESULTS, title: str = SECTION) -> None:
    """Put `text` in place of the section `title` of RESULTS.md, or after the rest when there is none."""
    current = path.read_text() if path.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(current):
        current = pattern.sub(lambda _: text + "\n", current, count=1)
    else:
        current = current.rstrip("\n") + "\n\n" + text
    path.write_text(current.rstrip("\n") + "\n")


def run(backends: list[str], seconds: float, sizes: list, rounds: int = 1) -> tuple[list[str], list[str]]:
    """The figures' table lines, and the backends skipped with why."""
    lines = []
    log_dir = REPO / "build" / "bench-load"
    log_dir.mkdir(parents=True, exist_ok=True)
    backends, skipped = reachable_backends(backends)
    for backend in backends:
        lines += [figures.line for figures in bench_backend(backend, seconds, sizes, rounds, log_dir)]
    return lines, skipped


def suite_figures(backends: list[str], seconds: float) -> list[Figure]:
    """What `make bench` shows of it: per backend, the mixed load under the deploy settings beside hello's."""
    log_dir = REPO / "build" / "bench-load"
    log_dir.mkdir(parents=True, exist_ok=True)
    figures = []
    for backend in backends:
        hello, mixed = bench_backend(backend, seconds, [None], 1, log_dir)
        rates = [len(run.outcomes.snapshot()) / run.seconds for run in (hello, mixed)]
        latencies = [item.seconds * 1000 for item in mixed.outcomes.snapshot()]
        errors = len(mixed.outcomes.server_errors())
        figures.append(
            Figure(
                backend,
                f"mixed load under gunicorn {mixed.size}, {CLIENTS} clients, {seconds:g} s",
                f"{rates[1]:.0f} req/s, p95 {percentile(latencies, 0.95):.0f} ms, {errors} server errors",
                rates[1] / rates[0],
                f"hello's {rates[0]:.0f} req/s",
                "0 server errors",
                errors == 0,
            )
        )
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("spatialite", "postgis"), action="append")
    parser.add_argument("--seconds", type=float, default=SECONDS, help=f"per load (default {SECONDS})")
    parser.add_argument("--full", action="store_true", help=f"{FULL_SECONDS} s per load")
    parser.add_argument(
        "--sizes", help="worker x thread counts to compare, e.g. 3x2,5x4 (default: the deploy settings)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="hello/mixed pairs per size (default 1)")
    parser.add_argument("--record", action="store_true", help=f"write the figures to {RESULTS.name}")
    args = parser.parse_args(argv)
    seconds = FULL_SECONDS if args.full else args.seconds
    before = load_average()
    print("\n".join(HEADER), flush=True)
    lines, skipped = run(args.backend or ["spatialite", "postgis"], seconds, sizes_of(args.sizes), args.rounds)
    after = load_average()
    for line in skipped:
        print(line, flush=True)
    print(f"load average before: {before}; after: {after}", flush=True)
    if args.record:
        command = "python -m benchmarks.load" + (" --full" if args.full else f" --seconds {seconds:g}")
        record(section(lines + skipped, seconds, before, after, command))
        print(f"recorded in {RESULTS}")


if __name__ == "__main__":
    main()
