"""The bulk writer of registry records, shared by the register import and the sample loader.

Records come in register terms: one dict per site, owner, recorder, lens or
commitment, with its own external id (a site's code) under "key", its parents
named by their external ids and positions as (lon, lat). The writer turns
them into table columns and writes them in batches through the driver's bulk
path (db.copy_rows: COPY on PostgreSQL, one prepared executemany on SQLite),
parents first: a city register holds tens of thousands of lenses, too many
for the ORM's unit of work. Both callers also share here the rule for an
owner's commune.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sized
from dataclasses import dataclass
from itertools import islice
from typing import Any

from sqlalchemy import BindParameter, Connection, Table, bindparam, func, insert, select, update

from ...db import copy_rows, spatial_indexes_deferred
from ...models import (
    WGS84,
    Lens,
    LensKind,
    Owner,
    Recorder,
    RecorderStatus,
    SharingCommitment,
    Site,
    commitment_recorders,
)

BATCH = 5_000
#: The commitment term listing the recorders it covers, when it does not cover all of the owner's.
COVERED_RECORDERS = "recorder_external_ids"


def point_ewkt(lon: str | float, lat: str | float) -> str:
    """A WGS84 point for bulk Core writes; the SRID is spelled out because PostGIS requires it."""
    return f"SRID={WGS84};POINT({float(lon)} {float(lat)})"


def key_list(keys: list) -> BindParameter:
    """A batch of keys for IN, written into the statement when it runs.

    Bound one by one, every full batch is the same statement; psycopg then
    prepares it, and PostgreSQL's generic plan scans the 5,000 keys linearly
    for every row (measured: 10 s a batch instead of 50 ms). As literals,
    the array is a constant the planner hashes.
    """
    return bindparam("keys", keys, expanding=True, literal_execute=True)


def owner_commune(site: Mapping[str, Any]) -> int | None:
    """The commune an owner is registered in, from the site (a record in register terms) of their first recorder.

    That commune's register lists the owner, and its police may see and edit
    them. An import row's site lies in the row's commune (a site of another
    commune is refused), so the importer registers an owner in the
    commune_code of the first row naming them; a dataset (the sample) names
    no commune for its owners, only their recorders' sites.
    """
    return site["commune_id"]


@dataclass(frozen=True)
class _Kind:
    table: Table
    key: str | None  # the column a record's "key" fills
    parents: dict[str, tuple[str, str]]  # term naming a parent -> (its column, the parent's kind)
    defaults: dict[str, Any]  # columns a new record may leave out


_KINDS = {
    "sites": _Kind(Site.__table__, "code", {}, {"point": None}),
    "owners": _Kind(Owner.__table__, "external_id", {}, {"email": None, "address": None}),
    "recorders": _Kind(
        Recorder.__table__,
        "external_id",
        {"owner_external_id": ("owner_id", "owners"), "site_code": ("site_id", "sites")},
        {"make": None, "model": None, "status": RecorderStatus.ACTIVE},
    ),
    "lenses": _Kind(
        Lens.__table__,
        "external_id",
        {"recorder_external_id": ("recorder_id", "recorders")},
        {"height_m": None, "kind": LensKind.FIXED},
    ),
    "commitments": _Kind(
        SharingCommitment.__table__,
        None,
        {"owner_external_id": ("owner_id", "owners")},
        {"all_recorders": True, "revoked_at": None},
    ),
}
_PARENTS = {parent for kind in _KINDS.values() for _, parent in kind.parents.values()}


class BulkWriter:
    """Writes records in register terms on one connection, in the caller's transaction.

    It keeps the ids of the parents it wrote, and of those the caller found
    stored (`known`), so a child names its parent by external id only. A
    reference to an unknown parent raises KeyError.
    """

    def __init__(self, connection: Connection, known: Mapping[str, Mapping[Any, int]] | None = None):
        self.connection = connection
        self.ids: dict[str, dict[Any, int]] = {kind: dict((known or {}).get(kind, {})) for kind in _PARENTS}

    def insert(self, kind: str, records: Iterable[dict[str, Any]]) -> None:
        """Insert new records, read from `records` (a list, or a stream) one batch at a time.

        The ids of parents are selected afterwards: COPY returns none.
        On SQLite the spatial index is built after the load when it is worth
        it (db.spatial_indexes_deferred: an empty table, or a list of records
        at least as long as the table).
        """
        spec = _KINDS[kind]
        incoming = len(records) if isinstance(records, Sized) else None
        stream = iter(records)
        with spatial_indexes_deferred(self.connection, spec.table, incoming):
            while batch := list(islice(stream, BATCH)):
                self._insert_batch(kind, spec, batch)

    def _insert_batch(self, kind: str, spec: _Kind, batch: list[dict[str, Any]]) -> None:
        """One batch; a parent's new ids are read back as the rows above the newest id before it.

        Ids only grow, and rows another writer commits meanwhile are told
        apart by key: one range scan, not an IN of 5,000 keys for the driver
        to parse and the database to probe.
        """
        rows = [self._columns(spec, record, spec.defaults) for record in batch]
        covered = [record.get(COVERED_RECORDERS) or () for record in batch]
        table = spec.table
        newest = self.connection.scalar(select(func.coalesce(func.max(table.c.id), 0))) if kind in self.ids else 0
        if any(covered):
            self._insert_covering(rows, covered)
        else:
            copy_rows(self.connection, table, rows, list(dict.fromkeys(key for row in rows for key in row)))
        if kind in self.ids:
            keys = {record["key"] for record in batch}
            found = self.connection.execute(select(table.c[spec.key], table.c.id).where(table.c.id > newest))
            self.ids[kind].update(row for row in found if row[0] in keys)

    def _insert_covering(self, rows: list[dict[str, Any]], covered: list) -> None:
        """Commitments for listed recorders need their ids for the links: RETURNING, in the records' order."""
        table = _KINDS["commitments"].table
        ids = self.connection.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), rows)
        links = [
            {"commitment_id": commitment_id, "recorder_id": self.ids["recorders"][external_id]}
            for commitment_id, listed in zip(ids.scalars(), covered)
            for external_id in listed
        ]
        self.connection.execute(insert(commitment_recorders), links)

    def update(self, kind: str, changes: list[dict[str, Any]]) -> None:
        """Apply per-record changes (an "id" and the changed terms), one executemany per set of changed columns.

        A versioned row (site, owner, recorder, lens) gets its version bumped, as an
        ORM write would: an edit based on what was read before the import is refused.
        """
        spec = _KINDS[kind]
        table = spec.table
        groups: dict[tuple[str, ...], list[dict[str, Any]]] = defaultdict(list)
        for change in changes:
            columns = self._columns(spec, change, {})
            groups[tuple(sorted(column for column in columns if column != "id"))].append(columns)
        bump = {"version": table.c.version + 1} if "version" in table.c else {}
        for columns, rows in groups.items():
            statement = (
                update(table)
                .where(table.c.id == bindparam("_id"))
                .values({**{column: bindparam(f"_{column}", type_=table.c[column].type) for column in columns}, **bump})
            )
            for start in range(0, len(rows), BATCH):
                self.connection.execute(
                    statement,
                    [{f"_{name}": value for name, value in row.items()} for row in rows[start : start + BATCH]],
                )

    def _columns(self, spec: _Kind, record: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        """A record in register terms as table columns: parents by id, points as EWKT.

        The record is copied whole and only its few special terms rewritten: a city load turns 80,000
        records, and a Python loop over every term of each was most of a second of it.
        """
        columns = {**defaults, **record}
        for term, (column, parent_kind) in spec.parents.items():
            if term in columns:
                value = columns.pop(term)
                columns[column] = None if value is None else self.ids[parent_kind][value]
        if columns.get("point") is not None:
            columns["point"] = point_ewkt(*columns["point"])
        if "key" in columns:
            columns[spec.key] = columns.pop("key")
        columns.pop(COVERED_RECORDERS, None)
        return columns
