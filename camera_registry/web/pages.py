"""Public pages: the service's front door and a health check."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..services import overview
from . import get_session

blueprint = Blueprint("pages", __name__, template_folder="templates")  # web/templates, not the package root


@blueprint.get("/healthz")
def health():
    overview.check_database(get_session())
    return {"status": "ok"}


@blueprint.get("/")
def index():
    return render_template("index.html", communes=overview.commune_overview(get_session()))
