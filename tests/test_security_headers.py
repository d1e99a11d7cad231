"""Every HTML response carries the security headers; the Content-Security-Policy runs no inline script."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from camera_registry.web.security import content_security_policy, tile_origin

# Signed-in pages (as police of commune A, by token), public pages and error pages.
PAGES = [
    ("police_a", "/"),
    ("police_a", "/map"),
    ("police_a", "/requests"),
    ("police_a", "/requests/new"),
    ("police_a", "/requests/999999"),
    ("admin", "/"),
    ("admin", "/map"),
    ("anonymous", "/login"),
    ("anonymous", "/no-such-page"),
    ("anonymous", "/o/not-a-real-token"),
    ("anonymous", "/api/docs"),
    ("admin", "/api/docs"),
]


def directives(policy: str) -> dict[str, list[str]]:
    return {name: values for name, *values in (part.split() for part in policy.split(";") if part.strip())}


@pytest.mark.parametrize("who, path", PAGES)
def test_every_html_page_carries_the_security_headers(client, world, who, path):
    response = client.get(path, headers=world.headers[who])
    assert response.mimetype == "text/html", (path, response.status_code)
    policy = directives(response.headers["Content-Security-Policy"])
    assert policy["frame-ancestors"] == ["'none'"] and response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer")
    assert policy["object-src"] == ["'none'"] and policy["base-uri"] == ["'none'"]
    scripts = policy["script-src"]
    assert "'unsafe-inline'" not in scripts and "'unsafe-eval'" not in scripts and "*" not in scripts
    if path != "/api/docs":
        assert scripts == ["'self'"]
        # ... and the page has no inline script or inline handler for that policy to refuse.
        html = response.get_data(as_text=True)
        # (A JSON data block, type="application/json", is never run: it carries the scripts' words.)
        assert not re.search(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", html), path
        assert not re.search(r"\son[a-z]+\s*=", html), path


def test_swagger_ui_may_run_its_own_inline_script_only(client):
    response = client.get("/api/docs")
    inline = re.findall(rb"<script>(.*?)</script>", response.get_data(), re.DOTALL)
    assert len(inline) == 1
    digest = base64.b64encode(hashlib.sha256(inline[0]).digest()).decode()
    assert directives(response.headers["Content-Security-Policy"])["script-src"] == ["'self'", f"'sha256-{digest}'"]


def test_owner_pages_keep_their_stricter_referrer_policy(client):
    response = client.get("/o/not-a-real-token")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_api_answers_carry_them_too(client, world):
    response = client.get("/api/v1/sites", headers=world.headers["admin"])
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]


def test_the_tile_server_is_the_only_other_image_origin():
    assert tile_origin("") is None
    assert tile_origin("https://tiles.example/{z}/{x}/{y}.png") == "https://tiles.example"
    assert tile_origin("https://{s}.tile.example:8443/{z}/{x}/{y}.png") == "https://*.tile.example:8443"
    assert tile_origin("javascript:alert(1)") is None
    images = directives(content_security_policy("https://tiles.example/{z}/{x}/{y}.png"))["img-src"]
    assert images == ["'self'", "data:", "https://tiles.example"]
    assert directives(content_security_policy(""))["img-src"] == ["'self'", "data:"]
