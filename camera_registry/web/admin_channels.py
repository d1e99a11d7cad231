"""The admins' page of channel problems, /admin/channels: the providers' configuration errors that hold
messages back (services/channel_problems.py), until a full admin area takes it in.

Admins only: anyone else signed in gets the plain 403 page, anyone signed out the login page.
"""

from __future__ import annotations

from dataclasses import replace

from flask import Blueprint, render_template

from ..http.actor import current_actor
from ..http.messages import translated
from ..http.units import get_session
from ..models.base import utcnow
from ..services import channel_problems
from .auth import signed_in

blueprint = Blueprint("admin_channels", __name__, url_prefix="/admin")


@blueprint.get("/channels")
@signed_in
def channels():
    problems = channel_problems.current_problems(get_session(), current_actor(), utcnow())
    said = [replace(problem, detail=translated(problem.detail)) for problem in problems]
    return render_template("admin/channels.html", problems=said)
