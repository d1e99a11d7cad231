"""gunicorn settings for the web process, per database backend (docs/deployment.md, "Running under gunicorn").

    gunicorn -c deploy/gunicorn.conf.py 'camera_registry:create_app()'

The backend is read from DATABASE_URL, the same variable the app reads (unset:
the embedded SpatiaLite file). Worker and thread counts were chosen by
measurement (benchmarks/load.py, 40 clients of mixed reads and writes,
benchmarks/RESULTS.md): see the table below. WEB_CONCURRENCY and
GUNICORN_THREADS override them.
"""
import multiprocessing
import os

CPUS = multiprocessing.cpu_count()

#: (workers, threads) per backend.
#: - SpatiaLite has one writer at a time (WAL): every writing request waits its turn for the lock, so more
#:   concurrent requests than that only make writers queue inside the database instead of in gunicorn's
#:   backlog. Processes (not threads) give reads parallelism past the GIL.
#: - PostGIS takes concurrent writers; each worker holds at most `threads` connections (SQLAlchemy's pool),
#:   so workers * threads must stay well below the server's max_connections (100 by default).
SIZES = {
    "spatialite": (CPUS + 1, 2),
    "postgis": (2 * CPUS + 1, 4),
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
