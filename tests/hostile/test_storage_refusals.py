"""Hostile storage through the real CLI (issue 13): URLs that are not URLs, folders that
cannot be written, another application's tables, in-memory databases, mistyped paths,
numbers no column holds, and budgets that would rewrite a finished study. Each is refused
in one line, and the database is left exactly as it was."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import Engine

from tests.hostile.harness import Db, assert_refused, run_lrtune

SPEC = "studies/quick.toml"
"""A spec for a new study; the harness runs from the repository's root."""

# The settings of the finished study ``s`` in every ``db`` (see conftest's ``_fill``).
SPEC_OF_S = """\
task = "digits-mlp"
study_name = "s"
n_trials = 2
epochs = 1
optimizers = ["sgd"]
schedules = ["constant"]
warm_start = false
device = "cpu"

[ranges]
"sgd.lr" = [0.01, 0.1]
"""


@pytest.fixture
def sqlite_db(_sqlite_template: Path, tmp_path: Path) -> Db:
    """A copy of the filled SQLite database, for what only SQLite meets or what is refused
    before any database is opened."""
    path = tmp_path / "lrtune.db"
    shutil.copyfile(_sqlite_template, path)
    return Db(f"sqlite:///{path}", path.read_bytes, path)


def refused_on(
    db: Db, code: int, fragment: str, *args: str, env: dict[str, str] | None = None
) -> str:
    """As the ``refused`` fixture, on ``db``."""
    before = db.snapshot()
    line = assert_refused(run_lrtune(*args, env=env), code, fragment)
    assert db.snapshot() == before, "the stored database changed"
    return line


def spec_of_s(tmp_path: Path) -> str:
    path = tmp_path / "s.toml"
    path.write_text(SPEC_OF_S)
    return str(path)


# --- 1. A storage URL that is not one: the same line for every command -----------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (
            "nonsense",
            "expected a URL such as sqlite:///path/to/file.db or "
            "postgresql://user:password@host:port/database",
        ),
        ("postgresql://x:notaport/db", "the port is not a number"),
    ],
)
@pytest.mark.parametrize("command", [["study", SPEC], ["worker", "--study", "s"]])
def test_a_storage_that_is_not_a_url_is_one_line(url: str, reason: str, command: list[str]) -> None:
    # The line `lrtune find` gives for the same LRTUNE_STORAGE (tests/cli/test_cli.py).
    result = run_lrtune(*command, env={"LRTUNE_STORAGE": url})
    line = assert_refused(result, 1, "Malformed storage URL")
    assert line == f"Error: Malformed storage URL {url!r}: {reason}"


# --- 2. A SQLite file in a folder lrtune cannot write to ---------------------------------


def test_a_sqlite_file_in_a_folder_that_cannot_be_written(sqlite_db: Db) -> None:
    # The database is named through /proc/<pid>/fd/<fd>, a descriptor this test holds
    # open: SQLite follows the link to the real file and opens it, but nobody, root
    # included, can create a file in /proc/<pid>/fd, where the worker lock
    # '<file>.lock' would go. (Making a folder read-only with chmod would not stop root.)
    assert sqlite_db.path is not None
    descriptor = os.open(sqlite_db.path, os.O_RDWR)
    try:
        folder = f"/proc/{os.getpid()}/fd"
        url = f"sqlite:///{folder}/{descriptor}"
        line = refused_on(
            sqlite_db, 1, "Cannot write in the folder", "study", SPEC, "--storage", url
        )
    finally:
        os.close(descriptor)
    assert f"'{folder}'" in line and f"'{descriptor}.lock'" in line


# --- 3. Another application's tables where Optuna's would go -----------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def clashing_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Db]:
    """A database of another application: its own ``trials`` and ``studies`` tables."""
    if request.param == "sqlite":
        path = tmp_path / "app.db"
        with sqlite3.connect(path) as connection:
            connection.execute("CREATE TABLE studies (id INTEGER PRIMARY KEY, title TEXT)")
            connection.execute("CREATE TABLE trials (id INTEGER PRIMARY KEY, patient TEXT)")
            connection.execute("INSERT INTO trials (patient) VALUES ('x')")
        connection.close()
        yield Db(f"sqlite:///{path}", path.read_bytes, path)
        return
    url = request.getfixturevalue("postgres_url")
    engine = sqlalchemy.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE studies (id SERIAL PRIMARY KEY, title TEXT)")
        connection.exec_driver_sql("CREATE TABLE trials (id SERIAL PRIMARY KEY, patient TEXT)")
        connection.exec_driver_sql("INSERT INTO trials (patient) VALUES ('x')")
    try:
        yield Db(url, lambda: _tables_and_rows(engine))
    finally:
        engine.dispose()


def _tables_and_rows(engine: Engine) -> object:
    tables = sorted(sqlalchemy.inspect(engine).get_table_names())
    with engine.connect() as connection:
        rows = {
            t: list(connection.exec_driver_sql(f'SELECT * FROM "{t}" ORDER BY 1')) for t in tables
        }
    return tables, rows


def test_another_applications_tables_are_refused_at_once(clashing_db: Db) -> None:
    started = time.monotonic()
    line = refused_on(
        clashing_db,
        1,
        "holds tables Optuna cannot use",
        "study",
        SPEC,
        "--storage",
        clashing_db.url,
    )
    # A schema error is not an outage: no retrying for RECONNECT_TIMEOUT_S (120 s).
    assert time.monotonic() - started < 30
    assert "trials has no study_id, trial_id" in line


# --- 4. An in-memory SQLite database: every result would vanish at exit ----------------


@pytest.mark.parametrize(
    ("command", "url"),
    [
        (["study", SPEC], "sqlite://"),
        (["runs"], "sqlite:///:memory:"),
        (["find", "digits-mlp"], "sqlite:///file::memory:?uri=true"),
    ],
)
def test_an_in_memory_database_is_refused(command: list[str], url: str) -> None:
    result = run_lrtune(*command, "--storage", url)
    assert_refused(result, 1, "an in-memory SQLite database vanishes when lrtune exits")


# --- 5. A mistyped path for a reading command: no new, empty database -------------------


@pytest.mark.parametrize(
    "command",
    [
        ["runs"],
        ["studies"],
        ["show", "1"],
        ["best", "s"],
        ["export", "s", "--out", "{tmp}/s.csv"],
        ["report", "s", "--out", "{tmp}/figures"],
        ["dashboard", "--port", "0"],
    ],
    ids=lambda command: command[0],
)
def test_a_reading_command_creates_no_database(command: list[str], tmp_path: Path) -> None:
    typo = tmp_path / "lrtune.bd"
    args = [part.replace("{tmp}", str(tmp_path)) for part in command]
    result = run_lrtune(*args, "--storage", f"sqlite:///{typo}")
    assert_refused(result, 1, "no database file there")
    assert sorted(tmp_path.iterdir()) == [], "a file or folder was created"


# --- 6. Numbers no column or memory holds: refused up front ------------------------------


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["show", "99999999999999999999"], "not in the range 1<=x<=2147483647"),
        (["runs", "--limit", "99999999999999999999"], "not in the range 1<=x<=9223372036854775807"),
        (["study", SPEC, "--n-trials", str(2**31)], "not in the range 1<=x<=2147483647"),
        (["find", "digits-mlp", "--num-iter", str(10**12)], "num_iter must be at most"),
    ],
    ids=["show-id", "runs-limit", "n-trials", "num-iter"],
)
def test_a_number_beyond_its_column_is_refused(
    sqlite_db: Db, args: list[str], fragment: str
) -> None:
    refused_on(sqlite_db, 2, fragment, *args, "--storage", sqlite_db.url)


# --- 7. A budget that would rewrite a finished study --------------------------------------


def test_a_budget_below_the_finished_trials_is_refused(
    db: Db, refused: Callable[..., str], tmp_path: Path
) -> None:
    spec = spec_of_s(tmp_path)
    line = refused(
        2, "has 2 finished trials", "study", spec, "--storage", db.url, "--n-trials", "1"
    )
    assert "cannot go down to 1" in line


def test_create_only_on_an_existing_study_says_so_and_changes_nothing(
    sqlite_db: Db, tmp_path: Path
) -> None:
    before = sqlite_db.snapshot()
    result = run_lrtune("study", spec_of_s(tmp_path), "--storage", sqlite_db.url, "--create-only")
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith(
        "Study 's' exists already (budget 2 trials, 2 finished); nothing changed"
    )
    assert sqlite_db.snapshot() == before, "the stored database changed"
