"""Logs an operator can read: one line per request and per job run, as text or JSON (LOG_FORMAT).

Every line passes through `redact` on its way out, whatever logger wrote it: an owner link's token
(`/o/<token>`), a Bearer token or token= value, a password or secret field and a phone number never
reach the log. The request log line names the URL rule (`/o/<token>`) and a path with link tokens
replaced, the status, the time taken and the request id; it never logs the query string's values,
the headers or the body.

A request id is taken from the incoming X-Request-Id (nginx's $request_id) when it is well formed,
else generated; it is sent back in the X-Request-Id header, appears in JSON error bodies
(api/errors.py) and on every line logged while the request is handled.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from datetime import UTC, datetime

REQUEST_ID_HEADER = "X-Request-Id"
#: What an incoming request id may look like: nginx's $request_id is 32 hex digits; a UUID fits too.
REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$")

OWNER_LINK = re.compile(r"(/o/)[^/\s?#\"'<>]+")
BEARER = re.compile(r"(?i)\b(bearer\s+|token[\"']?\s*[=:]\s*[\"']?)[A-Za-z0-9._~+/=-]{6,}")
SECRET_FIELD = re.compile(
    r"(?i)([\"']?\b(?:password|passwd|secret|csrf_token)[\"']?\s*[=:]\s*)"
    r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|[^\s,&}]+)"
)
#: Vietnamese phone numbers as people write them: 0912 345 678, 024 3942 1234, +84 912-345-678.
PHONE = re.compile(r"(?<![\w.])(?:\+84|0084|0)(?:[ .-]?\d){8,10}(?![\w])")

TEXT, JSON = "text", "json"
_HANDLER_FLAG = "_camera_registry_handler"


def redact(text: str) -> str:
    text = OWNER_LINK.sub(r"\1<token>", text)
    text = BEARER.sub(r"\1<redacted>", text)
    text = SECRET_FIELD.sub(_secret_value, text)
    return PHONE.sub("<phone>", text)


def _secret_value(match: re.Match) -> str:
    value = match.group(2)
    quote = value[0] if value[0] in "\"'" else ""
    return f"{match.group(1)}{quote}<redacted>{quote}"  # quotes kept: a JSON line stays JSON


def request_id_from(header: str | None) -> str:
    """The incoming id when it is well formed (so nginx's and ours match), else a new one."""
    if header and REQUEST_ID.match(header):
        return header
    return uuid.uuid4().hex


def _request_id() -> str | None:
    try:
        from flask import g, has_request_context
    except ImportError:  # pragma: no cover - Flask is a dependency; this module stays usable without it
        return None
    return g.get("request_id") if has_request_context() else None


def _fields(record: logging.LogRecord) -> dict:
    fields = dict(getattr(record, "fields", None) or {})
    request_id = getattr(record, "request_id", None) or _request_id()
    if request_id and "request_id" not in fields:
        fields = {"request_id": request_id, **fields}
    return fields


def _timestamp(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, the record's fields, and any exception."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            data["exception"] = record.exc_text
        return redact(json.dumps(data, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """`ts LEVEL logger message key=value ...`, then any traceback."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [_timestamp(record), record.levelname, record.name, record.getMessage()]
        parts += [f"{key}={_text_value(value)}" for key, value in _fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return redact(line)


def _text_value(value) -> str:
    text = str(value)
    return json.dumps(text, ensure_ascii=False) if (not text or any(c.isspace() or c in '"=' for c in text)) else text


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == JSON else TextFormatter()


def configure(log_format: str = TEXT, level: str = "INFO", stream=None) -> None:
    """Send the service's logs to stderr in `log_format`, once per process.

    When the process has configured logging already (pytest, an embedding application) its handlers are
    left alone; only our loggers' level is set. Our handler then does not exist and records go to theirs.
    """
    logging.getLogger("camera_registry").setLevel(getattr(logging, level, logging.INFO))
    root = logging.getLogger()
    ours = [handler for handler in root.handlers if getattr(handler, _HANDLER_FLAG, False)]
    if ours:
        ours[0].setFormatter(formatter(log_format))
        return
    if root.handlers:
        return
    handler = logging.StreamHandler(stream or sys.stderr)
    setattr(handler, _HANDLER_FLAG, True)
    handler.setFormatter(formatter(log_format))
    root.addHandler(handler)
