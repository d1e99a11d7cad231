"""For the outcome and deadline tests: a request filed by commune A's police through the services."""

from __future__ import annotations

from datetime import timedelta

from owner_support import NOW, police_actor
from shapely import Point

from camera_registry.services import requests

#: 10 m in front of lens-a, which looks east.
IN_VIEW = Point(105.8202, 21.02)


def file_request(session, *, incident=IN_VIEW, window_start=None, window_end=None, deadline=None):
    """A request for the hour that ended two hours ago unless told otherwise, with the reply deadline given."""
    return requests.open_request(
        session,
        police_actor(session),
        case_ref="VV-2026-077",
        reason="Trộm xe máy",
        legal_basis="Điều 145 BLTTHS",
        incident=incident,
        window_start=window_start or NOW - timedelta(hours=3),
        window_end=window_end or NOW - timedelta(hours=2),
        deadline=deadline,
        public_base_url="http://127.0.0.1:5000",
    )
