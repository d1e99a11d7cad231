"""Server-rendered pages (police and staff, the owners' links, the login), health checks and metrics.

Each request's database session and actor come from camera_registry.http, which the API shares.
"""

from __future__ import annotations

from flask import Flask

from ..http import units


def init_app(app: Flask) -> None:
    from . import (
        admin,
        admin_breaches,
        admin_channels,
        admin_imports,
        admin_invitations,
        admin_subject_requests,
        admin_units,
        admin_users,
        auth,
        basemap,
        coverage,
        figures,
        health,
        i18n,
        owner,
        owner_data,
        privacy,
        receipts,
        requests,
        security,
        timefmt,
    )
    from .pages import blueprint

    units.init_app(app)  # first: a writing request's body is read before anything opens its write unit
    auth.init_app(app)
    timefmt.init_app(app)
    i18n.init_app(app)
    health.init_app(app)  # /healthz, /readyz, /metrics, request ids and request logs
    app.register_blueprint(blueprint)
    app.register_blueprint(requests.blueprint)
    app.register_blueprint(coverage.blueprint)
    basemap.init_app(app)  # MAP_PMTILES_PATH checked at start-up, and /basemap.pmtiles
    app.register_blueprint(receipts.blueprint)  # the providers' delivery callbacks, /hooks/
    app.register_blueprint(admin_channels.blueprint)  # /admin/channels: the providers' configuration errors
    app.register_blueprint(admin.blueprint)  # /admin: the admin home and the contact reads
    app.register_blueprint(admin_imports.blueprint)  # /admin/imports: register uploads imported in the background
    app.register_blueprint(admin_users.blueprint)  # /admin/users: staff accounts and their API tokens
    app.register_blueprint(admin_units.blueprint)  # /admin/editions: the admin units' editions, dry-run and load
    app.register_blueprint(admin_invitations.blueprint)  # /admin/invitations: owners invited to sign a commitment
    app.register_blueprint(admin_breaches.blueprint)  # /admin/breaches: personal data breaches and the A05 report
    app.register_blueprint(privacy.blueprint)  # /privacy: the owners' privacy notice, public
    app.register_blueprint(figures.blueprint)  # /figures: the figures page and its downloads
    app.register_blueprint(admin_subject_requests.blueprint)  # /admin/subject-requests: owners' data requests
    owner_data.init_app(app)  # /o/<token>/data: the owner's data-subject requests, on the owner blueprint
    owner.init_app(app)
    security.init_app(app)
