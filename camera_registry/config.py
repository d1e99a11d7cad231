"""Settings read from the environment, so one build runs on a laptop or a server."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

#: Where the embedded database and other per-installation files live.
DEFAULT_INSTANCE_PATH = Path(os.environ.get("CAMERA_REGISTRY_INSTANCE", Path.cwd() / "instance"))


def default_database_url(instance_path: Path = DEFAULT_INSTANCE_PATH) -> str:
    """The embedded SpatiaLite file, used whenever DATABASE_URL is unset."""
    return f"sqlite:///{instance_path / 'camera_registry.sqlite'}"


def from_environment() -> dict:
    """Flask config keys taken from the process environment."""
    instance_path = Path(os.environ.get("CAMERA_REGISTRY_INSTANCE", DEFAULT_INSTANCE_PATH))
    session_absolute_hours = float(os.environ.get("SESSION_ABSOLUTE_HOURS", "12"))
    return {
        "INSTANCE_PATH": str(instance_path),
        "DATABASE_URL": os.environ.get("DATABASE_URL") or default_database_url(instance_path),
        "SECRET_KEY": os.environ.get("SECRET_KEY", ""),
        "SQL_ECHO": os.environ.get("SQL_ECHO", "") == "1",
        # SpatiaLite: how long a writer waits for the single write lock before the request answers 503.
        "SQLITE_BUSY_TIMEOUT_MS": int(os.environ.get("SQLITE_BUSY_TIMEOUT_MS", "10000")),
        # Off by default so http://127.0.0.1 works in development; set 1 behind HTTPS.
        "SESSION_COOKIE_SECURE": os.environ.get("SESSION_COOKIE_SECURE", "") == "1",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # A login session ends after this long without a request (idle) and this long after the login
        # (absolute), whatever the browser keeps; logout, deactivation and a password change end it at once.
        "SESSION_IDLE_MINUTES": float(os.environ.get("SESSION_IDLE_MINUTES", "30")),
        "SESSION_ABSOLUTE_HOURS": session_absolute_hours,
        # The cookie's own signature is refused after the absolute lifetime too.
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=session_absolute_hours),
        # Who a token or login session is, is remembered this long per process: a revoke, deactivation or password
        # change in another worker takes up to this long (0: look it up on every request). docs/security.md
        "AUTH_CACHE_SECONDS": float(os.environ.get("AUTH_CACHE_SECONDS", "5")),
        # A token's last use is written at most this often, after the response (never in a read's transaction).
        "TOKEN_LAST_USED_MINUTES": float(os.environ.get("TOKEN_LAST_USED_MINUTES", "5")),
        # Failed sign-ins allowed per username and per client address before /login answers 429
        # (counted in RATELIMIT_STORAGE_URI, so shared between gunicorn workers when that is shared).
        "LOGIN_RATE_LIMIT_USERNAME": os.environ.get("LOGIN_RATE_LIMIT_USERNAME", "5/minute;30/hour"),
        "LOGIN_RATE_LIMIT_ADDRESS": os.environ.get("LOGIN_RATE_LIMIT_ADDRESS", "20/minute;200/hour"),
        # Registry figures are not public: off, anonymous visitors of / are sent to /login; on, they see the
        # programme-wide totals only (no commune's figures).
        "PUBLIC_PROGRAMME_TOTALS": os.environ.get("PUBLIC_PROGRAMME_TOTALS", "") == "1",
        # Basemap tiles for the maps, e.g. an internal tile server; empty: boundaries only (no internet needed).
        "MAP_TILE_URL": os.environ.get("MAP_TILE_URL", ""),
        "MAP_TILE_ATTRIBUTION": os.environ.get("MAP_TILE_ATTRIBUTION", ""),
        # An offline basemap: a local PMTiles v3 archive (vector or raster) the app serves itself; it wins over
        # MAP_TILE_URL. Checked at start-up (docs/configuration.md).
        "MAP_PMTILES_PATH": os.environ.get("MAP_PMTILES_PATH", ""),
        "MAP_PMTILES_ATTRIBUTION": os.environ.get("MAP_PMTILES_ATTRIBUTION", ""),
        # Largest request body (register uploads); bigger ones get 413 before any row is read.
        "MAX_CONTENT_LENGTH": int(os.environ.get("UPLOAD_MAX_MB", "64")) * 1024 * 1024,
        # What a register file may expand to, checked before the memory is spent (services/upload_limits.py):
        # rows, worksheet cells, the workbook's inflated size and each part's compression ratio (real
        # spreadsheets stay far below 100x; bombs reach 1000x). 200,000 rows is nearly 4 times the largest
        # city register (55,000 lenses) and keeps one import's memory within a worker's means.
        "IMPORT_MAX_ROWS": int(os.environ.get("IMPORT_MAX_ROWS", "200000")),
        "IMPORT_MAX_CELLS": int(os.environ.get("IMPORT_MAX_CELLS", "6000000")),
        "IMPORT_MAX_UNCOMPRESSED_MB": int(os.environ.get("IMPORT_MAX_UNCOMPRESSED_MB", "256")),
        "IMPORT_MAX_COMPRESSION_RATIO": float(os.environ.get("IMPORT_MAX_COMPRESSION_RATIO", "100")),
        # Arrays and objects nested deeper than this in any JSON body or GeoJSON file are refused (422);
        # GeoJSON needs fewer than 10.
        "JSON_MAX_DEPTH": int(os.environ.get("JSON_MAX_DEPTH", "64")),
        # The largest area (km²) a footage request's incident polygon may cover (docs/requests.md).
        "AREA_REQUEST_MAX_KM2": float(os.environ.get("AREA_REQUEST_MAX_KM2", "0.5")),
        # Owner links (/o/<token>): requests per minute per address and route, the limiter's store
        # (memory:// is per process; redis://... shares it between gunicorn workers), and how many
        # proxies (nginx) stand in front, so the owner's address is read from X-Forwarded-For.
        "OWNER_LINK_RATE_LIMIT": os.environ.get("OWNER_LINK_RATE_LIMIT", "30/minute"),
        "RATELIMIT_STORAGE_URI": os.environ.get("RATELIMIT_STORAGE_URI", "memory://"),
        "RATELIMIT_TRUSTED_PROXIES": int(os.environ.get("RATELIMIT_TRUSTED_PROXIES", "0")),
        # Clips owners upload: kept outside the web root (empty: <instance>/clips), at most this many bytes.
        "CLIP_STORAGE_DIR": os.environ.get("CLIP_STORAGE_DIR", ""),
        "CLIP_MAX_BYTES": int(os.environ.get("CLIP_MAX_BYTES", str(2 * 1024**3))),
        # A resumable upload with no new byte for this long is abandoned: the cleanup job deletes its partial file.
        "CLIP_UPLOAD_EXPIRY_HOURS": float(os.environ.get("CLIP_UPLOAD_EXPIRY_HOURS", "24")),
        # Clips are deleted this many days after their request resolved, was cancelled or expired (the manifest
        # and the audit trail stay).
        "CLIP_RETENTION_DAYS": float(os.environ.get("CLIP_RETENTION_DAYS", "365")),
        # An owner with no recorder in the programme and no open data-subject request is anonymised this many days after
        # register last did anything with them (services/owner_retention.py; 0: never). Law 91/2025/QH15 keeps
        # personal data no longer than its purpose needs: an owner without cameras in the programme has none.
        "OWNER_RETENTION_DAYS": float(os.environ.get("OWNER_RETENTION_DAYS", "730")),
        # The installation's Ed25519 key that signs evidence packages (empty: <instance>/evidence_signing_key.pem);
        # generated on first use, kept outside the database.
        "EVIDENCE_SIGNING_KEY": os.environ.get("EVIDENCE_SIGNING_KEY", ""),
        # Notifications and the scheduler (docs/configuration.md: "Notifications and the scheduler").
        # Owner links in messages start with this; set the public https address in production.
        "PUBLIC_BASE_URL": os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").rstrip("/"),
        # An SMS/Zalo gateway; unset: webhook messages wait in the outbox.
        "NOTIFY_WEBHOOK_URL": os.environ.get("NOTIFY_WEBHOOK_URL", ""),
        "NOTIFY_WEBHOOK_SECRET": os.environ.get("NOTIFY_WEBHOOK_SECRET", ""),
        # An SMTP relay; unset: e-mail messages wait in the outbox.
        "SMTP_HOST": os.environ.get("SMTP_HOST", ""),
        "SMTP_PORT": int(os.environ.get("SMTP_PORT", "25")),
        "SMTP_USERNAME": os.environ.get("SMTP_USERNAME", ""),
        "SMTP_PASSWORD": os.environ.get("SMTP_PASSWORD", ""),
        "SMTP_STARTTLS": os.environ.get("SMTP_STARTTLS", "") == "1",
        "NOTIFY_EMAIL_FROM": os.environ.get("NOTIFY_EMAIL_FROM", "camera-registry@localhost"),
        "NOTIFY_MAX_ATTEMPTS": int(os.environ.get("NOTIFY_MAX_ATTEMPTS", "8")),
        "NOTIFY_BACKOFF_SECONDS": float(os.environ.get("NOTIFY_BACKOFF_SECONDS", "30")),
        "REMINDER_HOURS": float(os.environ.get("REMINDER_HOURS", "24")),
        "MAX_REMINDERS": int(os.environ.get("MAX_REMINDERS", "3")),
        "ESCALATION_HOURS": float(os.environ.get("ESCALATION_HOURS", "24")),
        # What a dead scheduler costs: its claimed messages wait this long, and its jobs lease this long.
        "NOTIFY_CLAIM_LEASE_SECONDS": float(os.environ.get("NOTIFY_CLAIM_LEASE_SECONDS", "90")),
        "SCHEDULER_LEASE_SECONDS": float(os.environ.get("SCHEDULER_LEASE_SECONDS", "60")),
        # Operations (docs/operations.md). /readyz: a message of a configured channel due for longer than this means
        # nobody is delivering.
        "READYZ_OUTBOX_MAX_AGE_SECONDS": float(os.environ.get("READYZ_OUTBOX_MAX_AGE_SECONDS", "900")),
        # /metrics answers these client addresses (comma-separated addresses or networks) and any client sending
        # `Authorization: Bearer <METRICS_TOKEN>`; nobody else. Behind nginx every client is 127.0.0.1, so the
        # bundled site refuses /metrics itself.
        "METRICS_ALLOWED_ADDRESSES": os.environ.get("METRICS_ALLOWED_ADDRESSES", "127.0.0.1,::1"),
        "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", ""),
        # Logs: `text` (one key=value line per event) or `json` (one JSON object per line), and the level.
        "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text").strip().lower(),
        "LOG_LEVEL": os.environ.get("LOG_LEVEL", "INFO").strip().upper(),
        # The scheduled backup: where (empty: off), how many to keep, and how often.
        "BACKUP_DIR": os.environ.get("BACKUP_DIR", ""),
        "BACKUP_KEEP": int(os.environ.get("BACKUP_KEEP", "7")),
        "BACKUP_INTERVAL_HOURS": float(os.environ.get("BACKUP_INTERVAL_HOURS", "24")),
        # Zalo ZNS and SMS brandname (docs/channels.md): every CHANNEL_* variable, read by the providers' settings;
        # none set: owners' phones get the webhook gateway above, as before.
        **{name: value for name, value in os.environ.items() if name.startswith("CHANNEL_")},
        # A sent ZNS with no delivery receipt after this long is sent again by SMS.
        "NOTIFY_RECEIPT_WAIT_MINUTES": float(os.environ.get("NOTIFY_RECEIPT_WAIT_MINUTES", "15")),
        # Who holds owners' personal data and answers for it (the privacy notice, /privacy, and the breach
        # notifications to A05): the controller's name and how to reach it; empty: the pages name the police unit
        # that runs the register and the commune police (docs/privacy.md).
        "PRIVACY_CONTROLLER_NAME": os.environ.get("PRIVACY_CONTROLLER_NAME", "").strip(),
        "PRIVACY_CONTROLLER_CONTACT": os.environ.get("PRIVACY_CONTROLLER_CONTACT", "").strip(),
    }
