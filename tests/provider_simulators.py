"""Local stand-ins for Zalo ZNS, eSMS and SpeedSMS, speaking their documented shapes (see the adapters'
docstrings in camera_registry/services/channels/), and a catcher for the callbacks they make.

Each listens on 127.0.0.1 on an ephemeral port, records every request it gets
(method, path, query, headers, raw body) so tests can assert exact bodies,
and answers as the real provider does, including its error codes: driven by
the phone number (`phone_errors`) or by a switch the test sets. They compute
signatures and check credentials themselves, never with the code under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

TIMEOUT = 5


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return dict(parse_qsl(self.body.decode()))


class Simulator:
    """A threaded HTTP server that records each request and answers with `answer(request)`."""

    def __init__(self) -> None:
        self.received: list[Recorded] = []
        #: When set, every request is answered with this HTTP status and no JSON (a provider that is down).
        self.fail_with_status: int | None = None
        #: Called with each request once it is recorded and answered here, before the answer goes back (the soak
        #: test kills the deliverer there: the provider has the message, the deliverer never learns it).
        self.on_receive = None
        self._lock = threading.Lock()
        simulator = self

        class Handler(BaseHTTPRequestHandler):
            def handle_request(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                target = urlsplit(self.path)
                request = Recorded(self.command, target.path, dict(parse_qsl(target.query)), dict(self.headers), body)
                time.sleep(simulator.delay(request))  # outside the lock: other requests are answered meanwhile
                with simulator._lock:
                    simulator.received.append(request)
                    status, answer = (
                        (simulator.fail_with_status, None) if simulator.fail_with_status else simulator.answer(request)
                    )
                if simulator.on_receive is not None:
                    simulator.on_receive(request)
                payload = b"down" if answer is None else json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain" if answer is None else "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller is gone (killed mid-request): nobody to answer

            do_GET = do_POST = handle_request

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        # A short poll interval, so closing a simulator at each test's end takes milliseconds, not half a second.
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self._thread.start()

    def answer(self, request: Recorded) -> tuple[int, dict]:
        return 200, {}

    def delay(self, request: Recorded) -> float:
        """Seconds to wait before answering `request` (a slow provider)."""
        return 0.0

    def requests_to(self, path: str) -> list[Recorded]:
        with self._lock:
            return [request for request in self.received if request.path == path]

    def accepted(self) -> dict:
        """The provider's id -> the send body it accepted, safe to read while requests keep arriving."""
        with self._lock:
            return dict(self.messages)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class ReceiptCatcher(Simulator):
    """Where the simulators' callbacks land (the receipts routes come later): answers 200 to anything."""


class ZnsSimulator(Simulator):
    """Zalo: POST /message/template (header access_token) and POST /v4/oa/access_token (header secret_key,
    form app_id, refresh_token, grant_type); refresh tokens are single-use, as Zalo's are."""

    app_id = "1234567890123456789"
    secret_key = "sim-app-secret"
    oa_secret_key = "sim-oa-secret"

    def __init__(self) -> None:
        self._issued = 0
        self.access_token, self.refresh_token = self._new_pair()
        #: Phone (84...) -> the ZNS error code Zalo answers for it.
        self.phone_errors: dict[str, int] = {}
        #: msg_id -> the send body Zalo accepted.
        self.messages: dict[str, dict] = {}
        #: Seconds each token refresh takes to answer, so two refreshers can overlap.
        self.refresh_seconds = 0.0
        super().__init__()

    def delay(self, request: Recorded) -> float:
        return self.refresh_seconds if request.path == "/v4/oa/access_token" else 0.0

    def _new_pair(self) -> tuple[str, str]:
        self._issued += 1
        return f"sim-access-{self._issued}", f"sim-refresh-{self._issued}"

    def expire_access_token(self) -> None:
        """The access token in use expires (25 hours pass); the refresh token still holds."""
        self.access_token = f"sim-access-expired-{uuid.uuid4().hex[:6]}"

    def answer(self, request: Recorded) -> tuple[int, dict]:
        if request.path == "/message/template":
            return 200, self._send(request)
        if request.path == "/v4/oa/access_token":
            return 200, self._refresh(request)
        return 404, {"error": -106, "message": "Method unsupported"}

    def _send(self, request: Recorded) -> dict:
        if request.headers.get("access_token") != self.access_token:
            return {"error": -124, "message": "Access token invalid"}
        body = request.json()
        code = self.phone_errors.get(body.get("phone"))
        if code is not None:
            return {"error": code, "message": f"simulated error {code}"}
        msg_id = uuid.uuid4().hex
        self.messages[msg_id] = body
        return {
            "error": 0,
            "message": "Success",
            "data": {
                "msg_id": msg_id,
                "sent_time": str(int(time.time() * 1000)),
                "quota": {"dailyQuota": "500", "remainingQuota": "499"},
            },
        }

    def _refresh(self, request: Recorded) -> dict:
        form = request.form()
        if request.headers.get("secret_key") != self.secret_key or form.get("app_id") != self.app_id:
            return {"error": -14002, "error_name": "Invalid parameter", "error_description": "wrong app or secret"}
        if form.get("grant_type") != "refresh_token" or form.get("refresh_token") != self.refresh_token:
            return {"error": -14014, "error_name": "Invalid refresh token", "error_description": "invalid or used"}
        self.access_token, self.refresh_token = self._new_pair()
        return {"access_token": self.access_token, "refresh_token": self.refresh_token, "expires_in": "90000"}

    def event(self, msg_id: str, delivered_at_ms: int) -> bytes:
        """The `user_received_message` event Zalo posts when a ZNS reaches the phone."""
        sent = self.messages[msg_id]
        return json.dumps(
            {
                "event_name": "user_received_message",
                "app_id": self.app_id,
                "sender": {"id": "579745863508352884"},
                "recipient": {"id": "8186463702584938423"},
                "message": {
                    "delivery_time": str(delivered_at_ms),
                    "msg_id": msg_id,
                    "tracking_id": sent["tracking_id"],
                },
                "timestamp": str(delivered_at_ms + 120),
            }
        ).encode()

    def sign(self, body: bytes) -> str:
        timestamp = json.loads(body)["timestamp"]
        return hashlib.sha256(f"{self.app_id}{body.decode()}{timestamp}{self.oa_secret_key}".encode()).hexdigest()

    def post_event(self, url: str, body: bytes, signature: str | None = None) -> int:
        """POST an event to `url` as Zalo's webhook does, signed unless `signature` is given."""
        response = requests.post(
            url,
            data=body,
            headers={"Content-Type": "application/json", "X-ZEvent-Signature": signature or self.sign(body)},
            timeout=TIMEOUT,
        )
        return response.status_code


def _pattern(template: str) -> re.Pattern:
    """A registered brandname template as eSMS matches it: fixed text exactly, each %(slot)s any text."""
    literals = re.split(r"%\(\w+\)s", template)
    return re.compile("(.+?)".join(re.escape(literal) for literal in literals), re.DOTALL)


class EsmsSimulator(Simulator):
    """eSMS: POST SendMultipleMessage_V4_post_json with CodeResult answers, and its GET delivery callback."""

    api_key = "sim-esms-key"
    secret_key = "sim-esms-secret"
    brandname = "CAMERA_AN_NINH"
    path = "/MainService.svc/json/SendMultipleMessage_V4_post_json/"

    def __init__(self, registered_templates: list[str]) -> None:
        self.registered = [_pattern(template) for template in registered_templates]
        #: Phone -> the CodeResult eSMS answers for it.
        self.phone_errors: dict[str, str] = {}
        #: SMSID -> the send body eSMS accepted.
        self.messages: dict[str, dict] = {}
        self._request_ids: set[str] = set()
        super().__init__()

    def answer(self, request: Recorded) -> tuple[int, dict]:
        if request.path != self.path:
            return 404, {"error": "Invalid request"}
        body = request.json()
        if body.get("ApiKey") != self.api_key or body.get("SecretKey") != self.secret_key:
            return 200, {"CodeResult": "101", "CountRegenerate": 0, "ErrorMessage": "Authorize Failed"}
        if body.get("Brandname") != self.brandname:
            return 200, {"CodeResult": "104", "CountRegenerate": 0, "ErrorMessage": "Brand name code is not exist"}
        if body.get("RequestId") in self._request_ids:
            return 200, {
                "CodeResult": "124",
                "CountRegenerate": 0,
                "ErrorMessage": "Request exist 1",
                "SendStatus": "5",
            }
        code = self.phone_errors.get(body.get("Phone"))
        if code is not None:
            return 200, {"CodeResult": code, "CountRegenerate": 0, "ErrorMessage": f"simulated error {code}"}
        sms_id = uuid.uuid4().hex
        if not any(pattern.fullmatch(body.get("Content", "")) for pattern in self.registered):
            return 200, {
                "CodeResult": "146",
                "CountRegenerate": 0,
                "ErrorMessage": "Sai template Brandname CSKH",
                "SMSID": sms_id,
            }
        self._request_ids.add(body.get("RequestId"))
        self.messages[sms_id] = body
        return 200, {"CodeResult": "100", "CountRegenerate": 0, "SMSID": sms_id}

    def deliver(self, sms_id: str, delivered: bool = True, send_status: str = "5") -> int:
        """Call the message's CallbackUrl as eSMS does once its status is final (HTTP GET, query string)."""
        sent = self.messages[sms_id]
        query = {
            "SMSID": sms_id,
            "SendFailed": "0" if delivered else "1",
            "SendStatus": send_status,
            "SendSuccess": "1" if delivered else "0",
            "TotalPrice": "0.0000",
            "TotalReceiver": "1",
            "TotalSent": "1",
            "RequestId": sent["RequestId"],
            "TypeId": "2",
            "telcoid": "1",
            "phonenumber": "0" + sent["Phone"][2:],
            "switchsmsid": "",
        }
        return requests.get(f"{sent['CallbackUrl']}?{urlencode(query)}", timeout=TIMEOUT).status_code


class SpeedSmsSimulator(Simulator):
    """SpeedSMS: POST /index.php/sms/send with basic auth (token, "x"), and its delivery-report webhook."""

    access_token = "sim-speedsms-token"
    path = "/index.php/sms/send"

    def __init__(self) -> None:
        #: Phone -> the error code SpeedSMS answers for it.
        self.phone_errors: dict[str, str] = {}
        self.messages: dict[int, dict] = {}
        super().__init__()

    def answer(self, request: Recorded) -> tuple[int, dict]:
        if request.path != self.path:
            return 404, {"status": "error", "code": "101", "message": "not found"}
        expected = "Basic " + base64.b64encode(f"{self.access_token}:x".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return 401, {"status": "error", "code": "009", "message": "account not allow to call the API"}
        body = request.json()
        phones = body.get("to") or []
        code = next((self.phone_errors[phone] for phone in phones if phone in self.phone_errors), None)
        if code is not None:
            return 200, {"status": "error", "code": code, "message": f"simulated error {code}", "invalidPhone": phones}
        tran_id = len(self.messages) + 100001
        self.messages[tran_id] = body
        return 200, {
            "status": "success",
            "code": "00",
            "data": {"tranId": tran_id, "totalSMS": len(phones), "totalPrice": 250 * len(phones), "invalidPhone": []},
        }

    def report_body(self, tran_id: int, status: int = 0) -> dict:
        """The delivery report SpeedSMS posts for one message: status 0 delivered, any other failed."""
        return {"type": "report", "tranId": tran_id, "phone": self.messages[tran_id]["to"][0], "status": status}

    def report(self, url: str, tran_id: int, status: int = 0) -> int:
        """POST a delivery report to the account's webhook URL."""
        return requests.post(url, json=self.report_body(tran_id, status), timeout=TIMEOUT).status_code
