"""Hostile input through the real CLI: a subprocess per command, a stored database checked
byte for byte (SQLite) or row for row (PostgreSQL) before and after.

Each test gets ``db``, a database that already holds one range test and one finished
study, on SQLite and on PostgreSQL, and ``lrtune(*args)``, which runs the installed
command and returns its exit code, stdout and stderr. ``refused(...)`` asserts the
contract every refusal keeps: the exit code, one line on stderr, no traceback, and the
database exactly as it was.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import Engine

from tests.hostile.harness import Db, assert_refused, run_lrtune
from tests.postgres_turns import postgres_turn


def _fill(url: str) -> None:
    import lrtune
    from lrtune.examples import load_example
    from lrtune.finder import find_lr_for_task
    from lrtune.storage import Storage

    task = load_example("digits-mlp")
    with Storage(url) as store:
        store.save_range_test(find_lr_for_task(task, "sgd", num_iter=20, device="cpu"))
    lrtune.run_study(
        task,
        storage=url,
        study_name="s",
        n_trials=2,
        epochs=1,
        optimizers=["sgd"],
        schedules=["constant"],
        ranges={"sgd.lr": (0.01, 0.1)},
        warm_start=False,
        device="cpu",
        heartbeat=None,
    )


def _rows(engine: Engine) -> list[object]:
    tables = sorted(sqlalchemy.inspect(engine).get_table_names())
    with engine.connect() as connection:
        return [
            (table, *row)
            for table in tables
            for row in connection.exec_driver_sql(f'SELECT * FROM "{table}" ORDER BY 1')
        ]


@pytest.fixture(scope="module")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "template.db"
    _fill(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="module")
def _postgres_db(postgres_admin_engine: Engine) -> Iterator[str]:
    name = f"lrtune_hostile_{uuid.uuid4().hex[:8]}"
    url = postgres_admin_engine.url.set(database=name).render_as_string(hide_password=False)
    # Made and dropped outside the tests' own turns on the server (tests/postgres_turns.py).
    with postgres_turn():
        with postgres_admin_engine.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        _fill(url)
    try:
        yield url
    finally:
        with postgres_turn(), postgres_admin_engine.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """The filled database: a fresh copy of the SQLite file, or the module's PostgreSQL one
    (every test must leave it as it found it)."""
    if request.param == "sqlite":
        path = tmp_path / "lrtune.db"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        yield Db(f"sqlite:///{path}", path.read_bytes, path)
        return
    url = request.getfixturevalue("_postgres_db")
    engine = sqlalchemy.create_engine(url.replace("postgresql:", "postgresql+psycopg:", 1))
    try:
        yield Db(url, lambda: _rows(engine))
    finally:
        engine.dispose()


@pytest.fixture
def refused(db: Db) -> Callable[..., str]:
    """``refused(code, fragment, *args, env=None)``: run ``lrtune *args`` and check that it
    refused with ``code`` and a line containing ``fragment``, leaving ``db`` untouched."""

    def check(code: int, fragment: str, *args: str, env: dict[str, str] | None = None) -> str:
        before = db.snapshot()
        line = assert_refused(run_lrtune(*args, env=env), code, fragment)
        assert db.snapshot() == before, "the stored database changed"
        return line

    return check
