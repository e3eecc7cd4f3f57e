"""The schema's version, migrations, and never losing what is already stored."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from lrtune._exceptions import StorageError
from lrtune.finder._result import FinderResult
from lrtune.storage import SCHEMA_VERSION, Storage, _schema

from .conftest import MakeResult

LRTUNE_TABLES = {"lrtune_schema", "lrtune_range_tests", "lrtune_range_test_points"}


def stored_version(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.scalar(text("SELECT version FROM lrtune_schema")))


def set_version(engine: Engine, version: int) -> None:
    with engine.begin() as connection:
        connection.execute(text("UPDATE lrtune_schema SET version = :v"), {"v": version})


def tables(engine: Engine) -> set[str]:
    return set(sqlalchemy.inspect(engine).get_table_names())


def save_two(storage_url: str, make_result: MakeResult) -> list[FinderResult]:
    results = [make_result(200, seed=1, task="a"), make_result(300, seed=2, task="b")]
    with Storage(storage_url) as storage:
        for result in results:
            storage.save_range_test(result)
    return results


def unreachable_sibling(storage_url: str) -> str:
    """A URL on the same backend that cannot be opened: a missing directory or database."""
    url = sqlalchemy.make_url(storage_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "")
        url = url.set(database=str(path.parent / "missing" / path.name))
    else:
        url = url.set(database=f"{url.database}_missing")
    return url.render_as_string(hide_password=False)


def check_still_there(storage_url: str, results: list[FinderResult], assert_same) -> None:
    with Storage(storage_url) as storage:
        for result in results:
            assert result.id is not None
            assert_same(storage.get_range_test(result.id), result)


def test_opening_creates_the_tables_at_the_current_version(
    storage: Storage, raw_engine: Engine
) -> None:
    assert tables(raw_engine) == LRTUNE_TABLES
    assert stored_version(raw_engine) == SCHEMA_VERSION == 2
    with raw_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM lrtune_schema")) == 1


def test_nothing_stored_is_lost_on_reopening(
    storage_url: str, make_result: MakeResult, assert_same_result
) -> None:
    results = save_two(storage_url, make_result)
    with pytest.raises(StorageError):
        Storage(unreachable_sibling(storage_url))
    with pytest.raises(StorageError):
        Storage("postgresql://postgres@127.0.0.1:1/x")
    check_still_there(storage_url, results, assert_same_result)
    with Storage(storage_url) as storage:
        assert len(storage.list_range_tests()) == 2


def test_newer_schema_is_refused_and_left_alone(
    storage_url: str, make_result: MakeResult, raw_engine: Engine
) -> None:
    save_two(storage_url, make_result)
    set_version(raw_engine, 3)
    before = tables(raw_engine)
    with pytest.raises(StorageError) as caught:
        Storage(storage_url)
    assert str(caught.value).endswith(
        "was created by a newer lrtune (schema 3 > 2); upgrade lrtune"
    )
    assert stored_version(raw_engine) == 3
    assert tables(raw_engine) == before
    with raw_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM lrtune_range_test_points")) == 500


def test_unrelated_tables_are_left_untouched(storage_url: str, raw_engine: Engine) -> None:
    # Optuna's tables will share the database; opening must neither drop nor alter them.
    with raw_engine.begin() as connection:
        connection.execute(text("CREATE TABLE studies (study_id INTEGER PRIMARY KEY, name TEXT)"))
        connection.execute(text("INSERT INTO studies VALUES (1, 'kept')"))
    with Storage(storage_url), Storage(storage_url):
        pass
    assert tables(raw_engine) == LRTUNE_TABLES | {"studies"}
    with raw_engine.connect() as connection:
        assert connection.execute(text("SELECT * FROM studies")).all() == [(1, "kept")]


def add_note_column(connection: Connection) -> None:
    connection.execute(text("ALTER TABLE lrtune_range_tests ADD COLUMN note VARCHAR(50)"))


def test_older_schema_is_migrated(
    storage_url: str,
    make_result: MakeResult,
    raw_engine: Engine,
    assert_same_result,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    results = save_two(storage_url, make_result)
    calls: list[int] = []

    def migration(connection: Connection) -> None:
        calls.append(1)
        add_note_column(connection)

    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(_schema, "MIGRATIONS", {**_schema.MIGRATIONS, 2: migration})
    check_still_there(storage_url, results, assert_same_result)
    check_still_there(storage_url, results, assert_same_result)
    assert calls == [1]
    assert stored_version(raw_engine) == 3
    columns = {c["name"] for c in sqlalchemy.inspect(raw_engine).get_columns("lrtune_range_tests")}
    assert "note" in columns


def test_missing_migration_is_refused(
    storage_url: str, raw_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    Storage(storage_url).close()
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 4)
    monkeypatch.setattr(_schema, "MIGRATIONS", {2: add_note_column})
    with pytest.raises(StorageError, match="No migration from storage schema 3 to 4"):
        Storage(storage_url)
    assert stored_version(raw_engine) == 2
    assert "note" not in {
        c["name"] for c in sqlalchemy.inspect(raw_engine).get_columns("lrtune_range_tests")
    }


def test_failed_migration_changes_nothing(
    storage_url: str, raw_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The column added before the failure must vanish too: DDL runs in the transaction,
    # on SQLite as well (lrtune emits its own BEGIN there).
    def half_migration(connection: Connection) -> None:
        add_note_column(connection)
        connection.execute(text("SELECT no_such_column FROM lrtune_range_tests"))

    Storage(storage_url).close()
    monkeypatch.setattr(_schema, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(_schema, "MIGRATIONS", {2: half_migration})
    with pytest.raises(StorageError, match=r"^Cannot open storage") as caught:
        Storage(storage_url)
    assert "\n" not in str(caught.value)
    assert stored_version(raw_engine) == 2
    columns = {c["name"] for c in sqlalchemy.inspect(raw_engine).get_columns("lrtune_range_tests")}
    assert "note" not in columns


def test_processes_opening_a_new_database_at_once_all_succeed(
    storage_url: str, raw_engine: Engine
) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_and_close() -> None:
        barrier.wait()
        try:
            Storage(storage_url).close()
        except BaseException as error:  # handed to the main thread to fail the test
            errors.append(error)

    threads = [threading.Thread(target=open_and_close) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with raw_engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM lrtune_schema")) == 1


SCHEMA_1_RANGE_TESTS = """
CREATE TABLE lrtune_range_tests (
    id INTEGER PRIMARY KEY, "group" VARCHAR(255), task VARCHAR(255),
    optimizer VARCHAR(255) NOT NULL, optimizer_options JSON NOT NULL, options JSON NOT NULL,
    model_summary JSON NOT NULL, suggested_lr FLOAT, min_lr FLOAT, max_lr FLOAT,
    rule VARCHAR(64) NOT NULL, stop_reason VARCHAR(32) NOT NULL, stop_detail TEXT NOT NULL,
    started_at TIMESTAMP, finished_at TIMESTAMP, created_at TIMESTAMP NOT NULL,
    n_points INTEGER NOT NULL)
"""


def test_a_schema_1_database_gains_the_interval_and_keeps_its_range_tests(
    storage_url: str, raw_engine: Engine
) -> None:
    # What lrtune 0.1 with schema 1 wrote, by hand: the tables as they were, one range test.
    with raw_engine.begin() as connection:
        connection.execute(
            text("CREATE TABLE lrtune_schema (id INTEGER PRIMARY KEY, version INTEGER)")
        )
        connection.execute(text("INSERT INTO lrtune_schema VALUES (1, 1)"))
        connection.execute(text(SCHEMA_1_RANGE_TESTS))
        connection.execute(
            text(
                "INSERT INTO lrtune_range_tests (id, optimizer, optimizer_options, options, "
                "model_summary, suggested_lr, min_lr, max_lr, rule, stop_reason, stop_detail, "
                "created_at, n_points) VALUES (7, 'SGD', '{}', '{}', '{}', 0.01, 0.02, 0.08, "
                "'lrtune', 'completed', 'ran all 0 steps', '2026-01-01 00:00:00', 0)"
            )
        )

    with Storage(storage_url) as storage:
        old = storage.get_range_test(7)

    assert stored_version(raw_engine) == 2
    assert (old.suggested_lr, old.max_lr, old.lr_interval) == (0.01, 0.08, None)
    columns = {c["name"] for c in sqlalchemy.inspect(raw_engine).get_columns("lrtune_range_tests")}
    assert {"lr_low", "lr_high"} <= columns
