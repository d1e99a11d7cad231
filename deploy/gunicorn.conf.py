"""gunicorn settings for the web process, per database backend (docs/deployment.md, "Running under gunicorn").

    gunicorn -c deploy/gunicorn.conf.py 'camera_registry:create_app()'

The backend is read from DATABASE_URL, the same variable the app reads (unset:
the embedded SpatiaLite file). Worker and thread counts were chosen by
measurement (benchmarks/load.py, 40 clients of mixed reads and writes,
benchmarks/RESULTS.md): see the table below. WEB_CONCURRENCY and
GUNICORN_THREADS override them.
"""

import gc
import multiprocessing
import os

CPUS = multiprocessing.cpu_count()

#: (workers, threads) per backend, measured on 2 cores with 40 clients of mixed reads and writes (benchmarks/load.py,
#: benchmarks/RESULTS.md "Mixed load under gunicorn"); every size below answered with 0 server errors, these fastest:
#: - SpatiaLite: 2*cpu+1 processes of 4 threads (5x4 here: ~185 req/s, p99 0.7 s). Writers queue for the one write
#:   lock (BEGIN IMMEDIATE) while readers go on in WAL; processes give rendering and serialising parallelism past
#:   the GIL. Fewer (3x2, 3x4) halved the throughput; more (5x8, 9x4) gave no more and a longer tail.
#: - PostGIS: cpu+1 processes of 4 threads (3x4 here: ~140 req/s, p99 0.64 s), with PostgreSQL on the same
#:   machine taking its share of the CPU; 5x4 was no faster and 5x8 much slower (p99 1.8 s). Each worker holds at
#:   most `threads` connections (SQLAlchemy's pool), so workers * threads stays far below max_connections (100).
#:   With the database on its own host, measure again: more workers may then pay.
SIZES = {
    "spatialite": (2 * CPUS + 1, 4),
    "postgis": (CPUS + 1, 4),
}


def backend_of(url: str) -> str:
    return "postgis" if url.startswith(("postgresql", "postgres")) else "spatialite"


backend = backend_of(os.environ.get("DATABASE_URL", ""))
default_workers, default_threads = SIZES[backend]

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", default_workers))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", default_threads))
# Connections waiting for a free thread queue here (the kernel's listen backlog), not as errors.
backlog = 2048
timeout = 60
# Idle keep-alive connections hold no thread in gthread; a browser's next request reuses its connection.
keepalive = 5
# Clip uploads stream through; let nginx buffer slow clients instead of a worker.
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"
# The app logs one line per request with its request id (camera_registry/logs.py); gunicorn's access line stays,
# with nginx's request id, and with an owner link's token replaced: the link is the owner's key.
access_log_format = '%(h)s - %(t)s "%(r)s" %(s)s %(B)s %(M)sms id=%({x-request-id}i)s'


def _redacting_logger():
    from gunicorn.glogging import Logger

    from camera_registry.logs import redact

    class RedactingLogger(Logger):
        """gunicorn's logger, with the request line, path, query and referrer passed through logs.redact."""

        def atoms(self, resp, req, environ, request_time):
            atoms = super().atoms(resp, req, environ, request_time)
            for key in ("r", "U", "q", "f"):
                if isinstance(atoms.get(key), str):
                    atoms[key] = redact(atoms[key])
            return atoms

    return RedactingLogger


logger_class = _redacting_logger()

# Metrics (docs/operations.md, "Metrics"): with PROMETHEUS_MULTIPROC_DIR set, every worker writes its counts there
# and /metrics adds them up. The scheduler of the host may share the directory, so only files of processes that
# are gone are removed at start; a worker that exits is marked dead so its live gauges drop out.
_METRICS_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server):
    if not _METRICS_DIR:
        return
    os.makedirs(_METRICS_DIR, exist_ok=True)
    for name in os.listdir(_METRICS_DIR):
        stem = name.rsplit(".", 1)[0]
        pid = stem.rsplit("_", 1)[-1]
        if name.endswith(".db") and pid.isdigit() and not _alive(int(pid)):
            os.unlink(os.path.join(_METRICS_DIR, name))


def post_worker_init(worker):
    """Leave what loading the app made (some 200,000 objects: modules, schemas, catalogs) out of the garbage
    collector's full passes: each walked them all, 0.2-0.4 s on 2 shared cores, and stalled whichever request
    set it off (benchmarks/RESULTS.md, "Routing speed"). They live as long as the worker anyway; what is
    garbage already is collected first."""
    gc.collect()
    gc.freeze()


def child_exit(server, worker):
    if _METRICS_DIR:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
