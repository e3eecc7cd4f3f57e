"""The schema's version: creating the tables, refusing newer ones, migrating older ones."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy
from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Connection, Engine

from lrtune._exceptions import StorageError
from lrtune.storage._models import Base, RangeTestRow, SchemaRow
from lrtune.storage._url import render_url

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 2
"""The version of the tables this lrtune writes; bump it with each migration added."""

Migration = Callable[[Connection], None]


def _add_interval_columns(connection: Connection) -> None:
    """Schema 1 -> 2: the range test's ``lr_interval`` as two nullable columns."""
    columns = RangeTestRow.__table__.c
    for name in ("lr_low", "lr_high"):
        column_type = columns[name].type.compile(dialect=connection.dialect)
        statement = f"ALTER TABLE {RangeTestRow.__tablename__} ADD COLUMN {name} {column_type}"
        connection.execute(text(statement))


MIGRATIONS: dict[int, Migration] = {1: _add_interval_columns}
"""``{from_version: fn}``: ``fn`` upgrades the tables from ``from_version`` to the next.

Migrations alter tables that already exist; tables new in a version are made by
``create_all``, which runs after them.
"""

# pg_advisory_xact_lock key ("lrtune" in ASCII): serializes processes creating the schema at once.
_POSTGRES_LOCK_KEY = 0x6C7274756E65


def ensure_schema(engine: Engine) -> None:
    """Create missing tables and bring the version up to date, all in one transaction."""
    with _schema_transaction(engine) as connection:
        _lock(connection)
        stored = read_version(connection)
        _check_not_newer(stored, engine)
        if stored is not None:
            _migrate(connection, stored)
        Base.metadata.create_all(connection)
        _write_version(connection, stored)


@contextmanager
def _schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction around DDL and DML, on SQLite too.

    Python's sqlite3 begins no transaction before DDL, so there the connection runs in
    autocommit and the transaction is SQLite's own: ``BEGIN IMMEDIATE`` takes the write
    lock at once, so that two processes creating the schema queue rather than collide.
    """
    if engine.dialect.name != "sqlite":
        with engine.begin() as connection:
            yield connection
        return
    with engine.connect() as connection:
        connection.execution_options(isolation_level="AUTOCOMMIT")
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield connection
        except BaseException:
            connection.exec_driver_sql("ROLLBACK")
            raise
        connection.exec_driver_sql("COMMIT")


def check_schema(engine: Engine) -> bool:
    """Whether lrtune's tables exist, for a reader that must not create or migrate them.

    Raises ``StorageError`` if they were written by a newer lrtune or are older than
    this one reads (a writer's ``ensure_schema`` migrates them).
    """
    with engine.connect() as connection:
        stored = read_version(connection)
    _check_not_newer(stored, engine)
    if stored is not None and stored < SCHEMA_VERSION:
        raise StorageError(
            f"Storage {render_url(engine.url)} holds lrtune schema {stored}; any writing "
            f"lrtune command (lrtune find) upgrades it to {SCHEMA_VERSION}"
        )
    return stored is not None


def read_version(connection: Connection) -> int | None:
    """The stored schema version; ``None`` for a database lrtune has not written to."""
    if not sqlalchemy.inspect(connection).has_table(SchemaRow.__tablename__):
        return None
    return connection.scalar(select(SchemaRow.version))


def _lock(connection: Connection) -> None:
    # SQLite's lock comes from BEGIN IMMEDIATE; PostgreSQL needs its own.
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _POSTGRES_LOCK_KEY})


def _check_not_newer(stored: int | None, engine: Engine) -> None:
    if stored is not None and stored > SCHEMA_VERSION:
        raise StorageError(
            f"Storage {render_url(engine.url)} was created by a newer lrtune "
            f"(schema {stored} > {SCHEMA_VERSION}); upgrade lrtune"
        )


def _migrate(connection: Connection, stored: int) -> None:
    for version in range(stored, SCHEMA_VERSION):
        migration = MIGRATIONS.get(version)
        if migration is None:
            raise StorageError(f"No migration from storage schema {version} to {version + 1}")
        logger.info("Migrating lrtune storage from schema %d to %d", version, version + 1)
        migration(connection)


def _write_version(connection: Connection, stored: int | None) -> None:
    if stored is None:
        connection.execute(insert(SchemaRow).values(id=1, version=SCHEMA_VERSION))
    elif stored != SCHEMA_VERSION:
        connection.execute(update(SchemaRow).values(version=SCHEMA_VERSION))
