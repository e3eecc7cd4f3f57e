"""Refusing a database whose tables are named as Optuna's but are another application's.

Optuna creates the tables it lacks and then queries its own columns: in a database that
already holds another application's ``trials`` or ``studies``, it would add its other
tables beside them and then fail on every query ("no such column: trials.trial_id").
The check runs as Optuna starts to create its tables, before it writes anything.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine

from lrtune._exceptions import StorageError
from lrtune._optuna import rdb_models
from lrtune.storage._url import render_url


def _key_columns() -> dict[str, set[str]]:
    """Each Optuna table's key columns (primary and foreign): those that every version of
    Optuna's schema has had, so that an older Optuna database is not mistaken for another
    application's (Optuna itself asks for its upgrade)."""
    tables = rdb_models().BaseModel.metadata.tables.values()
    return {
        table.name: {column.name for column in table.primary_key.columns}
        | {key.parent.name for key in table.foreign_keys}
        for table in tables
    }


def clashing_tables(connectable: Engine | Connection) -> list[str]:
    """``"<table> has no <columns>"`` for each table named as one of Optuna's that lacks
    Optuna's key columns; empty for an Optuna database, or one without such tables."""
    inspector = sqlalchemy.inspect(connectable)
    needed = _key_columns()
    present = [name for name in inspector.get_table_names() if name in needed]
    if not present:
        return []
    found = inspector.get_multi_columns(filter_names=present)
    columns = {table: {c["name"] for c in cols} for (_schema, table), cols in found.items()}
    problems = []
    for name in sorted(present):
        missing = sorted(needed[name] - columns.get(name, set()))
        if missing:
            problems.append(f"{name} has no {', '.join(missing)}")
    return problems


def check_optuna_tables(connectable: Engine | Connection, url: URL) -> None:
    """Raise ``StorageError`` (one line) if the database holds tables Optuna cannot use."""
    problems = clashing_tables(connectable)
    if problems:
        raise StorageError(
            f"Cannot open storage {render_url(url)}: it holds tables Optuna cannot use "
            f"({'; '.join(problems)}), another application's perhaps; keep lrtune's "
            "results in a database of their own"
        )


@contextmanager
def refusing_clashes(url: URL) -> Iterator[None]:
    """In the block, Optuna's ``create_all`` checks its tables first (``check_optuna_tables``),
    on the connection it creates them with, so that the storage's engine stays the only one."""
    metadata = rdb_models().BaseModel.metadata

    def check(_metadata: object, connection: Connection, **_options: Any) -> None:
        check_optuna_tables(connection, url)

    event.listen(metadata, "before_create", check)
    try:
        yield
    finally:
        event.remove(metadata, "before_create", check)
