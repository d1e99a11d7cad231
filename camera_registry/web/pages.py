"""The service's front door (the health checks are in health.py).

Registry figures are not public: an anonymous visitor of / is sent to the sign-in page, or, when the
installation sets PUBLIC_PROGRAMME_TOTALS, shown the programme-wide totals only. A signed-in reader sees
the communes in their own reach.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, url_for

from ..http.actor import current_actor
from ..http.units import get_session
from ..services import overview

blueprint = Blueprint("pages", __name__, template_folder="templates")  # web/templates, not the package root


@blueprint.get("/")
def index():
    actor = current_actor()
    if actor is not None:
        return render_template("index.html", communes=overview.commune_overview(get_session(), actor))
    if current_app.config["PUBLIC_PROGRAMME_TOTALS"]:
        return render_template("index.html", totals=overview.programme_totals(get_session()))
    return redirect(url_for("auth.login"))
