"""What an import tells the clerk: counts per kind of record, and every refused cell by row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from heapq import heappush, heapreplace

LISTED_ERRORS = 1_000
ENTITIES = ("sites", "owners", "recorders", "lenses", "commitments")


@dataclass(frozen=True)
class RowError:
    """One refused cell. Rows count as a spreadsheet shows them: the header is row 1."""

    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass
class EntityCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0


@dataclass
class ImportReport:
    """What an import did (or, in a dry run or on errors, would do) to each kind of record."""

    filename: str
    dry_run: bool
    rows: int = 0
    sites: EntityCounts = field(default_factory=EntityCounts)
    owners: EntityCounts = field(default_factory=EntityCounts)
    recorders: EntityCounts = field(default_factory=EntityCounts)
    lenses: EntityCounts = field(default_factory=EntityCounts)
    commitments: EntityCounts = field(default_factory=EntityCounts)
    errors: list[RowError] = field(default_factory=list)  # the first LISTED_ERRORS, by row
    errors_not_listed: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors and not self.errors_not_listed

    @property
    def error_count(self) -> int:
        return len(self.errors) + self.errors_not_listed

    def counts(self) -> dict[str, dict[str, int]]:
        return {name: asdict(getattr(self, name)) for name in ENTITIES}


class ErrorLog:
    """Counts every error but keeps only the LISTED_ERRORS earliest by row, so a hopeless file cannot fill memory."""

    def __init__(self) -> None:
        self.count = 0
        self._kept: list[tuple[int, int, RowError]] = []  # a max-heap on (row, order) through negation

    def add(self, row: int, column: str, reason: str) -> None:
        self.count += 1
        item = (-row, -self.count, RowError(row, column, reason))
        if len(self._kept) < LISTED_ERRORS:
            heappush(self._kept, item)
        elif item > self._kept[0]:
            heapreplace(self._kept, item)

    def listed(self) -> list[RowError]:
        return [error for _, _, error in sorted(self._kept, reverse=True)]
