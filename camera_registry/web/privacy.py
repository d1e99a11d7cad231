"""The privacy notice for camera owners, /privacy (issue 17 item 4): who holds their data, what it is, why, for how
long and how to ask, under Law 91/2025/QH15 and Decree 356/2025/NĐ-CP.

Public, no sign-in: every owner page and message links it. It follows the pages' language rule
(http/language.py), so `?lang=en` works. The controller is the deployment's (PRIVACY_CONTROLLER_NAME and
PRIVACY_CONTROLLER_CONTACT); the periods are the settings the registry actually runs with, never numbers
written into the text.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template

blueprint = Blueprint("privacy", __name__)


@dataclass(frozen=True)
class Retention:
    """How long what the registry keeps is kept, as configured."""

    #: An owner with no recorder left in the programme is anonymised this long after their last activity; 0: never.
    owner_days: float
    clip_days: float
    upload_expiry_hours: float
    #: None: no scheduled backup on this deployment.
    backup_days: float | None
    backup_copies: int


def retention_of(config) -> Retention:
    backups = bool(config["BACKUP_DIR"])
    return Retention(
        owner_days=config["OWNER_RETENTION_DAYS"],
        clip_days=config["CLIP_RETENTION_DAYS"],
        upload_expiry_hours=config["CLIP_UPLOAD_EXPIRY_HOURS"],
        backup_days=config["BACKUP_KEEP"] * config["BACKUP_INTERVAL_HOURS"] / 24 if backups else None,
        backup_copies=config["BACKUP_KEEP"],
    )


@blueprint.get("/privacy")
def notice():
    config = current_app.config
    return render_template(
        "privacy.html",
        controller_name=config["PRIVACY_CONTROLLER_NAME"],
        controller_contact=config["PRIVACY_CONTROLLER_CONTACT"],
        retention=retention_of(config),
        number=lambda value: f"{value:g}",
    )
