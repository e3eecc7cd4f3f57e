"""Taking turns on the one PostgreSQL server when tests run in several processes.

Under pytest-xdist (`pytest -n 2`) tests in several processes use the server at once. Most
only create, use and drop a database of their own; a test marked ``restarts_postgres`` stops
the whole server, which would cut every other test's connections. Each PostgreSQL test holds
a shared lock on one file for its duration and a restarting test an exclusive one, so that a
restart happens only while no other PostgreSQL test runs.
"""

from __future__ import annotations

import fcntl
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = Path(tempfile.gettempdir()) / "lrtune-tests-postgres.lock"


@contextmanager
def postgres_turn(*, alone: bool = False) -> Iterator[None]:
    """Hold the server with the other tests (``alone``: without them) for the block."""
    with open(LOCK_FILE, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
