"""The register against the registry: what to create, update or leave unchanged, and writing it.

Stored records are read in batches of keys. A record the actor may not
change, or a recorder or lens an import would hand to another owner, is
refused here, as the file alone cannot tell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ...models import (
    CommitmentChannel,
    ConsentChannel,
    ConsentPurpose,
    ConsentRecord,
    Lens,
    Owner,
    Recorder,
    SharingCommitment,
    Site,
)
from ...timezones import local_midnight, local_today
from ..access import Actor
from ..errors import Conflict
from ..messages import domain_term, record_name, refusal
from .register import Entry, Register, same
from .report import ENTITIES, EntityCounts, ErrorLog
from .writer import BATCH, BulkWriter, key_list

IMPORT_TEXT_VERSION = "import"


@dataclass
class _Changes:
    """For one kind of record: ids of those already stored, new ones to insert, changed ones to update."""

    ids: dict[Any, int] = field(default_factory=dict)
    create: list[dict[str, Any]] = field(default_factory=list)
    update: list[dict[str, Any]] = field(default_factory=list)
    unchanged: int = 0


def _start_of(day: date) -> datetime:
    return local_midnight(day).astimezone(UTC)


def _day_of(moment: datetime) -> date:
    return local_today(moment)


def _last_day(valid_until: datetime | None) -> date | None:
    """A commitment valid until midnight starting day D+1 holds through day D, as a clerk writes it."""
    return None if valid_until is None else _day_of(valid_until - timedelta(microseconds=1))


class Plan:
    """What the file changes in the registry, found by reading the stored records in batches."""

    def __init__(
        self, session: Session, actor: Actor, register: Register, errors: ErrorLog, import_job_id: int | None = None
    ):
        self.session = session
        self.actor = actor
        self.register = register
        self.errors = errors
        self.import_job_id = import_job_id  # the consent records of new paper commitments name it as their source
        self.changes = {name: _Changes() for name in ENTITIES}
        self.recorders_refused_a_new_owner: set[str] = set()  # their lenses need no error of their own
        #: The new commitments' consents, by (owner external id, signed at): signed, or renewed on another day.
        self.consents: dict[tuple[str, datetime], ConsentPurpose] = {}

    def counts(self, name: str) -> EntityCounts:
        changes = self.changes[name]
        return EntityCounts(len(changes.create), len(changes.update), changes.unchanged)

    def compare(self) -> None:
        self._compare_sites()
        self._compare_owners()
        self._compare_recorders()
        self._compare_lenses()
        self._compare_commitments()

    def _stored(self, statement: Callable[[Any], Any], keys) -> dict[Any, dict[str, Any]]:
        """Stored rows by key, `statement(batch)` selecting one batch of keys at a time."""
        keys = list(keys)
        found = {}
        for start in range(0, len(keys), BATCH):
            for row in self.session.execute(statement(key_list(keys[start : start + BATCH]))):
                stored = dict(row._mapping)
                if "lon" in stored:
                    stored["point"] = (stored.pop("lon"), stored.pop("lat"))
                found[stored.pop("key")] = stored
        return found

    def _sort(self, changes: _Changes, key: Any, values: dict[str, Any], stored: dict[str, Any] | None) -> None:
        if stored is None:
            changes.create.append({"key": key, **values})
            return
        changes.ids[key] = stored["id"]
        changed = {column: value for column, value in values.items() if not same(stored[column], value)}
        if changed:
            changes.update.append({"id": stored["id"], **changed})
        else:
            changes.unchanged += 1

    def _refuse_unwritable(self, entry: Entry, column: str, what: str, commune_id: int | None) -> bool:
        if self.actor.can_write(commune_id):
            return False
        where = self.register.commune_name(commune_id) if commune_id is not None else domain_term("no commune")
        self.errors.add(
            entry.row,
            column,
            refusal("%(what)s is registered in %(where)s, outside the communes you may change", what=what, where=where),
        )
        return True

    def _compare_sites(self) -> None:
        stored = self._stored(
            lambda keys: select(Site.code.label("key"), Site.id, Site.commune_id, Site.name).where(Site.code.in_(keys)),
            self.register.sites,
        )
        for code, entry in self.register.sites.items():
            found = stored.get(code)
            if found is not None and found["commune_id"] != entry.values["commune_id"]:
                self.errors.add(
                    entry.row,
                    "site_code",
                    refusal(
                        "site %(code)s belongs to %(commune)s, not %(other)s",
                        code=code,
                        commune=self.register.commune_name(found["commune_id"]),
                        other=self.register.commune_name(entry.values["commune_id"]),
                    ),
                )
                continue
            values = dict(entry.values) if found is not None else {"name": code, **entry.values}
            self._sort(self.changes["sites"], code, values, found)

    def _compare_owners(self) -> None:
        stored = self._stored(
            lambda keys: select(
                Owner.external_id.label("key"),
                Owner.id,
                Owner.kind,
                Owner.name,
                Owner.phone,
                Owner.email,
                Owner.address,
                Owner.commune_id,
            ).where(Owner.external_id.in_(keys)),
            self.register.owners,
        )
        for external_id, entry in self.register.owners.items():
            found = stored.get(external_id)
            if found is not None and self._refuse_unwritable(
                entry, "owner_external_id", f"owner {external_id}", found["commune_id"]
            ):
                continue
            self._sort(self.changes["owners"], external_id, entry.values, found)

    def _compare_recorders(self) -> None:
        stored = self._stored(
            lambda keys: (
                select(
                    Recorder.external_id.label("key"),
                    Recorder.id,
                    Owner.external_id.label("owner_external_id"),
                    Site.code.label("site_code"),
                    func.ST_X(Recorder.point).label("lon"),
                    func.ST_Y(Recorder.point).label("lat"),
                    Recorder.retention_days,
                    Recorder.make,
                    Recorder.model,
                    Recorder.commune_id,
                )
                .join(Recorder.owner)
                .outerjoin(Recorder.site)
                .where(Recorder.external_id.in_(keys))
            ),
            self.register.recorders,
        )
        for external_id, entry in self.register.recorders.items():
            found = stored.get(external_id)
            values = dict(entry.values)
            if found is not None:
                if self._refuse_unwritable(
                    entry, "recorder_external_id", record_name("recorder", external_id), found["commune_id"]
                ):
                    continue
                if found["owner_external_id"] != values["owner_external_id"]:
                    self.recorders_refused_a_new_owner.add(external_id)
                    self.errors.add(
                        entry.row,
                        "owner_external_id",
                        refusal(
                            "recorder %(recorder)s belongs to owner %(owner)s; an import does not move recorders "
                            "between owners",
                            recorder=external_id,
                            owner=found["owner_external_id"],
                        ),
                    )
                    continue
            elif "point" not in values:
                values["point"] = self.register.first_lens_point.get(external_id)
            owner = self.register.owners.get(values["owner_external_id"])
            if owner is None or ("point" in values and values["point"] is None):
                continue  # its rows were refused already
            if "point" in values:
                values["commune_id"] = owner.values["commune_id"]
            self._sort(self.changes["recorders"], external_id, values, found)

    def _compare_lenses(self) -> None:
        stored = self._stored(
            lambda keys: (
                select(
                    Lens.external_id.label("key"),
                    Lens.id,
                    Recorder.external_id.label("recorder_external_id"),
                    Owner.external_id.label("owner_external_id"),
                    func.ST_X(Lens.point).label("lon"),
                    func.ST_Y(Lens.point).label("lat"),
                    Lens.commune_id,
                    Lens.bearing_deg,
                    Lens.fov_deg,
                    Lens.range_m,
                    Lens.height_m,
                    Lens.kind,
                    Lens.status,
                )
                .join(Lens.recorder)
                .join(Recorder.owner)
                .where(Lens.external_id.in_(keys))
            ),
            self.register.lenses,
        )
        for external_id, entry in self.register.lenses.items():
            found = stored.get(external_id)
            recorder_id = entry.values["recorder_external_id"]
            recorder = self.register.recorders.get(recorder_id)
            if found is not None:
                if self._refuse_unwritable(
                    entry, "lens_external_id", record_name("lens", external_id), found["commune_id"]
                ):
                    continue
                if (
                    recorder is not None
                    and recorder_id not in self.recorders_refused_a_new_owner
                    and found["owner_external_id"] != recorder.values["owner_external_id"]
                ):
                    self.errors.add(
                        entry.row,
                        "recorder_external_id",
                        refusal(
                            "lens %(lens)s is on recorder %(recorder)s of owner %(owner)s; an import moves a lens "
                            "only between recorders of the same owner",
                            lens=external_id,
                            recorder=found["recorder_external_id"],
                            owner=found["owner_external_id"],
                        ),
                    )
                    continue
            self._sort(self.changes["lenses"], external_id, entry.values, found)

    def _compare_commitments(self) -> None:
        owners = sorted({owner for owner, _ in self.register.commitments})
        stored: dict[str, list] = defaultdict(list)
        for start in range(0, len(owners), BATCH):
            rows = self.session.execute(
                select(
                    Owner.external_id, SharingCommitment.id, SharingCommitment.signed_at, SharingCommitment.valid_until
                )
                .join(SharingCommitment.owner)
                .where(Owner.external_id.in_(key_list(owners[start : start + BATCH])))
                .order_by(SharingCommitment.id)
            )
            for owner, commitment_id, signed_at, valid_until in rows:
                stored[owner].append((commitment_id, _day_of(signed_at), valid_until))
        changes = self.changes["commitments"]
        for (owner, signed), entry in self.register.commitments.items():
            valid_until = entry.values["valid_until"]
            match = next((found for found in stored[owner] if found[1] == signed), None)
            end = _start_of(valid_until + timedelta(days=1)) if valid_until else None
            if match is None:
                self.consents[(owner, _start_of(signed))] = (
                    ConsentPurpose.COMMITMENT_RENEWED if stored[owner] else ConsentPurpose.COMMITMENT_SIGNED
                )
                changes.create.append(
                    {
                        "owner_external_id": owner,
                        "signed_at": _start_of(signed),
                        "valid_until": end,
                        "channel": CommitmentChannel.PAPER,
                        "text_version": IMPORT_TEXT_VERSION,
                    }
                )
            elif _last_day(match[2]) != valid_until:
                changes.update.append({"id": match[0], "valid_until": end})
            else:
                changes.unchanged += 1

    def write(self) -> None:
        """Insert and update in batches, parents first; any clash with a concurrent writer undoes it all."""
        try:
            with self.session.begin_nested():
                connection = self.session.connection()
                newest = connection.scalar(select(func.coalesce(func.max(SharingCommitment.id), 0)))
                writer = BulkWriter(connection, {name: self.changes[name].ids for name in ENTITIES})
                for name in ENTITIES:
                    writer.insert(name, self.changes[name].create)
                    writer.update(name, self.changes[name].update)
                self._write_consents(newest)
        except IntegrityError:
            raise Conflict(refusal("the registry changed while the file was imported; import it again")) from None
        self.session.expire_all()

    def _write_consents(self, newest: int) -> None:
        """One consent record per new commitment, on paper, from this import: the commitments above the newest id
        before the write that this file created (a web signature meanwhile is none of them)."""
        if not self.consents:
            return
        connection = self.session.connection()
        created = connection.execute(
            select(SharingCommitment.id, SharingCommitment.owner_id, SharingCommitment.signed_at, Owner.external_id)
            .join(Owner, SharingCommitment.owner_id == Owner.id)
            .where(SharingCommitment.id > newest, SharingCommitment.text_version == IMPORT_TEXT_VERSION)
        )
        rows = [
            {
                "owner_id": owner_id,
                "purpose": self.consents[key],
                "channel": ConsentChannel.PAPER,
                "given_at": signed_at,
                "notice_version": IMPORT_TEXT_VERSION,
                "language": "vi",  # a commune's register is kept in Vietnamese
                "commitment_id": commitment_id,
                "recorded_by_user_id": self.actor.user_id,
                "import_job_id": self.import_job_id,
            }
            for commitment_id, owner_id, signed_at, external_id in created
            if (key := (external_id, signed_at.astimezone(UTC))) in self.consents
        ]
        for start in range(0, len(rows), BATCH):
            connection.execute(insert(ConsentRecord), rows[start : start + BATCH])
