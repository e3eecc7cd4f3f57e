"""Fixtures shared across lrtune's tests."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy.engine import Engine

from tests.postgres_turns import postgres_turn

# --- the slow part of the suite ---------------------------------------------------------------
# Tests that start lrtune, workers, proxies or a browser as processes take most of the suite's
# time; `pytest -m "not slow"` runs the rest in a fraction of it.

SLOW_PATHS = (
    "tests/hostile/",
    "tests/workers/test_faults.py",
    "tests/workers/test_proxy_faults.py",
    "tests/workers/test_worker_cli.py",
    "tests/dashboard/test_browser.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the slow tests, and order the suite by ``_turn`` (each module's tests stay
    together): under ``pytest -n 2 --dist worksteal`` a process that runs out of tests
    takes some of the other's, and with the long ones done first, what is left to share
    at the end is short."""
    root = Path(str(config.rootpath))
    turns: dict[str, int] = {}
    for item in items:
        where = Path(str(item.path)).relative_to(root).as_posix()
        if where.startswith(SLOW_PATHS):
            item.add_marker(pytest.mark.slow)
        turns[item.nodeid] = _turn(where, item)
    items.sort(key=lambda item: turns[item.nodeid])


LONGEST_FIRST = (
    "tests/workers/test_stop_moments.py",
    "tests/optuna_upstream/",
    "tests/workers/test_faults.py",
    "tests/workers/test_proxy_faults.py",
)
"""The modules of the suite's longest tests (half a minute to a minute each), which run
before the other slow ones: one of them left for the end keeps one process busy alone."""


def _turn(where: str, item: pytest.Item) -> int:
    """When a test runs: those that restart PostgreSQL first, then the longest (in
    ``LONGEST_FIRST``'s order), the other slow ones, the rest.

    A restart waits until no other PostgreSQL test runs, and stops the other process's
    PostgreSQL tests while it lasts. First, it runs beside the other process's first
    tests, which ``--dist worksteal`` takes from the middle of this order, where tests read
    and draw reports in memory."""
    if item.get_closest_marker("restarts_postgres") is not None:
        return -1
    for turn, module in enumerate(LONGEST_FIRST):
        if where.startswith(module):
            return turn
    slow = item.get_closest_marker("slow") is not None
    return len(LONGEST_FIRST) + (0 if slow else 1)


# --- PostgreSQL ------------------------------------------------------------------------------
# Tests marked ``postgres`` get a fresh database on the server named below. If the server
# cannot be reached they fail, so that a missing server is not mistaken for a passing run;
# LRTUNE_SKIP_POSTGRES=1 makes them skip instead.

POSTGRES_ADMIN_URLS = (
    [os.environ["LRTUNE_TEST_POSTGRES_URL"]]
    if os.environ.get("LRTUNE_TEST_POSTGRES_URL")
    else [
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgresql+psycopg://postgres@127.0.0.1:5432/test",
    ]
)


@pytest.fixture(autouse=True)
def _postgres_turn(request: pytest.FixtureRequest) -> Iterator[None]:
    """A PostgreSQL test shares the server with the others running beside it (pytest-xdist);
    one marked ``restarts_postgres`` waits to hold it alone (``tests/postgres_turns.py``)."""
    if request.node.get_closest_marker("postgres") is None:
        yield
        return
    with postgres_turn(alone=request.node.get_closest_marker("restarts_postgres") is not None):
        yield


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[Engine]:
    """An AUTOCOMMIT engine on the server's admin database, to create and drop databases."""
    errors = []
    for url in POSTGRES_ADMIN_URLS:
        # pool_pre_ping: the worker tests restart the server, killing pooled connections.
        engine = sqlalchemy.create_engine(
            url,
            isolation_level="AUTOCOMMIT",
            connect_args={"connect_timeout": 5},
            pool_pre_ping=True,
        )
        try:
            with engine.connect():
                pass
        except sqlalchemy.exc.SQLAlchemyError as error:
            engine.dispose()
            errors.append(f"{url}: {str(getattr(error, 'orig', None) or error).splitlines()[0]}")
            continue
        yield engine
        engine.dispose()
        return
    _postgres_unavailable("; ".join(errors))


def _postgres_unavailable(detail: str) -> None:
    reason = f"PostgreSQL server unreachable ({detail})"
    if os.environ.get("LRTUNE_SKIP_POSTGRES") == "1":
        pytest.skip(reason)
    pytest.fail(f"{reason}; set LRTUNE_SKIP_POSTGRES=1 to skip these tests", pytrace=False)


@pytest.fixture
def postgres_url(postgres_admin_engine: Engine) -> Iterator[str]:
    """The URL of a new, empty database, dropped after the test."""
    name = f"lrtune_test_{uuid.uuid4().hex[:8]}"
    with postgres_admin_engine.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_admin_engine.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with postgres_admin_engine.connect() as connection:
            # FORCE ends connections a failed test left open, which would block the drop.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL to an empty database: a SQLite file in ``tmp_path``, or a new PostgreSQL one."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'lrtune.db'}"
    return str(request.getfixturevalue("postgres_url"))
