"""The Zalo OA token pair in the database (provider_tokens), shared by every deliverer process.

Zalo's refresh tokens work once, so a refreshed pair must reach every
process before anyone refreshes again, and two processes must not both spend
the same refresh token. A refresh is a call over the network, and no write
transaction waits on the network (DESIGN.md §4), so it is serialised without
a row lock held across the call:
- the refresher takes the `zns-token-refresh` lease (services/leases.py: a
  conditional UPDATE in a short write unit), long enough for the call;
- it reads the pair again under the lease: if another process stored a newer
  pair meanwhile, that one is used and nothing is refreshed;
- it refreshes over HTTP with no transaction open, then stores the new pair in
  a short write unit by compare-and-swap on the refresh token it spent; if that
  finds another pair (its lease ran out and another refresher stored one), the
  stored pair wins;
- a process that finds the lease taken waits, reading the pair, until the
  holder stored the new one or its lease ran out.
Until the first refresh, the pair is the configured one (CHANNEL_ZNS_*_TOKEN).
When Zalo refuses the stored refresh token and the configured one differs (an
admin authorised the app again and set the new pair), the configured one is
tried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ...db import READ, open_session, write_unit
from ...models import ProviderToken
from ...models.base import utcnow
from ..channels import zns
from ..leases import hold_lease, release_lease
from ..messages import refusal

log = logging.getLogger("camera_registry.delivery")

REFRESH_LEASE = "zns-token-refresh"
#: How often a process waiting for another's refresh reads the pair again.
POLL_SECONDS = 0.1


class DatabaseTokenStore:
    """zns.TokenStore over provider_tokens; one per deliverer run (`holder` names it in the refresh lease),
    keeping the pair it last read."""

    def __init__(self, sessions: sessionmaker, settings: zns.ZnsSettings, holder: str) -> None:
        self.sessions = sessions
        self.holder = holder
        self.configured = settings.tokens
        #: Long enough for one refresh call and its store, so a live refresher never loses the lease.
        self.lease = timedelta(seconds=2 * settings.timeout_seconds + 5)
        self._tokens: zns.Tokens | None = None

    def current(self) -> zns.Tokens:
        if self._tokens is None:
            self._tokens = self._read()
        return self._tokens

    def renew(self, refused: zns.Tokens, refresh: Callable[[str], zns.Tokens]) -> zns.Tokens:
        holder, waited_until = self.holder, time.monotonic() + self.lease.total_seconds()
        while True:
            stored = self._read()
            if stored.access_token != refused.access_token:
                return self._keep(stored)  # another process renewed it
            if write_unit(
                self.sessions, lambda session: hold_lease(session, REFRESH_LEASE, holder, self.lease, utcnow())
            ):
                break
            if time.monotonic() >= waited_until:
                raise zns.TokenRefreshFailed(
                    refusal("another process is renewing the ZNS access token"), transient=True
                )
            time.sleep(POLL_SECONDS)
        try:
            return self._keep(self._refresh_under_lease(refused, refresh))
        finally:
            write_unit(self.sessions, lambda session: release_lease(session, REFRESH_LEASE, holder, utcnow()))

    def _refresh_under_lease(self, refused: zns.Tokens, refresh: Callable[[str], zns.Tokens]) -> zns.Tokens:
        stored = self._read()
        if stored.access_token != refused.access_token:
            return stored  # the previous holder stored it just before we took the lease
        spendable = [stored.refresh_token]
        if self.configured.refresh_token not in spendable:
            spendable.append(self.configured.refresh_token)
        fresh = _spend_first(spendable, refresh)
        if write_unit(self.sessions, lambda session: _swap(session, stored.refresh_token, fresh)):
            return fresh
        log.warning("another process stored a newer ZNS token pair during this refresh; using that one")
        return self._read()

    def _keep(self, tokens: zns.Tokens) -> zns.Tokens:
        self._tokens = tokens
        return tokens

    def _read(self) -> zns.Tokens:
        with open_session(self.sessions, READ) as session:
            row = session.get(ProviderToken, zns.NAME, populate_existing=True)
            if row is None:
                return self.configured
            return zns.Tokens(row.access_token, row.refresh_token or "", row.expires_at)


def _spend_first(spendable: list[str], refresh: Callable[[str], zns.Tokens]) -> zns.Tokens:
    """The new pair for the first refresh token Zalo takes; a failure to reach Zalo ends the tries at once."""
    *earlier, last = spendable
    for refresh_token in earlier:
        try:
            return refresh(refresh_token)
        except zns.TokenRefreshFailed as error:
            if error.transient:
                raise
            log.warning("Zalo refused the stored ZNS refresh token (%s); trying the configured one", error)
    return refresh(last)


def _swap(session: Session, spent_refresh_token: str, fresh: zns.Tokens) -> bool:
    """Store `fresh` if the stored pair is still the one whose refresh token was spent (or none is stored yet)."""
    values = {
        "access_token": fresh.access_token,
        "refresh_token": fresh.refresh_token,
        "expires_at": fresh.expires_at,
        "updated_at": utcnow(),
    }
    swapped = session.execute(
        update(ProviderToken)
        .where(ProviderToken.provider == zns.NAME, ProviderToken.refresh_token == spent_refresh_token)
        .values(**values)
        .execution_options(synchronize_session=False)
    ).rowcount
    if swapped:
        return True
    if session.scalar(select(exists().where(ProviderToken.provider == zns.NAME))):
        return False
    try:
        with session.begin_nested():
            session.add(ProviderToken(provider=zns.NAME, **values))
    except IntegrityError:
        return False
    return True
