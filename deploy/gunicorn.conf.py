"""gunicorn settings for the web process: `gunicorn -c deploy/gunicorn.conf.py 'camera_registry:create_app()'`."""
import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "gthread"
threads = 4
timeout = 60
# Clip uploads stream through; let nginx buffer slow clients instead of a worker.
forwarded_allow_ips = "127.0.0.1"
accesslog = "-"
errorlog = "-"
