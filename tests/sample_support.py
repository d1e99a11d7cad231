"""For the tests that each need the bundled sample present and nothing else: one load of it per module.

Loading the sample takes seconds (445 communes with their real boundaries). `SampleOnce` loads it on a
connection of its own, in a transaction that is never committed, and gives each test a savepoint of that
transaction, rolled back after the test: the test sees the sample and whatever it writes itself, as it would on
a fresh load, and leaves nothing for the next one. A module takes it by overriding `db_connection`
(tests/conftest.py), so `session`, `app` and `client` all run on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from camera_registry.services.sample import LoadReport, load_dataset


class SampleOnce:
    """The bundled sample, loaded once into a transaction of one connection that is rolled back at the end."""

    def __init__(self, engine: Engine) -> None:
        self.connection = engine.connect()
        self._transaction = self.connection.begin()
        with Session(bind=self.connection, join_transaction_mode="create_savepoint") as session:
            self.report: LoadReport = load_dataset(session)
            session.commit()  # into the outer transaction, which stays open

    @contextmanager
    def savepoint(self) -> Iterator[Connection]:
        """The connection inside a savepoint that is rolled back afterwards, whatever the test did."""
        nested = self.connection.begin_nested()
        try:
            yield self.connection
        finally:
            if nested.is_active:
                nested.rollback()

    def close(self) -> None:
        self._transaction.rollback()
        self.connection.close()
