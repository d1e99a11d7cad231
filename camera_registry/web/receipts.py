"""The providers' delivery callbacks: /hooks/zns (signed by Zalo), /hooks/esms/<key>/<token> and
/hooks/speedsms/<token> (authenticated by their secret path, channels/base.py).

No session and no CSRF token: a provider is no browser. A callback that is not
authentic changes nothing: a bad ZNS signature is 401, a wrong secret path
404, as if the route were not there. A provider without settings answers 404.
An authentic callback whose body is not its provider's shape is 400, naming the field; one that
overtook its send's record is 409, so the provider calls again (services/receipts.py).
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request

from ..http import units
from ..http.actor import csrf
from ..models.base import utcnow
from ..services.channels import esms, speedsms, zns
from ..services.channels.base import MalformedReceipt, Receipt
from ..services.notifications import NotificationSettings
from ..services.receipts import EARLY, apply_receipt

blueprint = Blueprint("receipts", __name__, url_prefix="/hooks")
csrf.exempt(blueprint)


def _settings() -> NotificationSettings:
    return NotificationSettings.from_config(current_app.config)


def _apply(settings: NotificationSettings, receipt: Receipt | None):
    if receipt is None:
        return jsonify({"result": "not a receipt"})
    result = units.write_unit(lambda session: apply_receipt(session, settings, receipt))
    return jsonify({"result": result}), 409 if result == EARLY else 200


@blueprint.post("/zns")
@units.reads_then_writes
def zns_event():
    settings = _settings()
    if settings.zns is None:
        abort(404)
    try:
        receipt = zns.parse_receipt(settings.zns, request.get_data(), request.headers.get(zns.SIGNATURE_HEADER, ""))
    except zns.BadSignature:
        abort(401)
    return _apply(settings, receipt)


@blueprint.get("/esms/<key>/<token>")
@units.reads_then_writes
def esms_callback(key: str, token: str):
    settings = _settings()
    if not isinstance(settings.sms, esms.EsmsSettings) or not esms.callback_authentic(settings.sms, key, token):
        abort(404)
    return _apply(settings, esms.parse_callback(request.args, utcnow(), key))


@blueprint.post("/speedsms/<token>")
@units.reads_then_writes
def speedsms_report(token: str):
    settings = _settings()
    if not isinstance(settings.sms, speedsms.SpeedSmsSettings) or not speedsms.webhook_authentic(settings.sms, token):
        abort(404)
    try:
        receipt = speedsms.parse_report(request.get_json(silent=True), utcnow())
    except MalformedReceipt as error:
        return jsonify({"errors": {error.field: [error.reason]}}), 400
    return _apply(settings, receipt)
