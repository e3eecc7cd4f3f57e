"""Locks that let several workers share one study: PostgreSQL advisory locks, and the one
worker a SQLite file may serve."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, Engine, make_url

from lrtune._exceptions import StorageError
from lrtune.storage._resilient import call_with_retries

LOCK_NAMESPACE = 0x6C72
"""The first key of lrtune's PostgreSQL advisory locks ("lr"), apart from other users'."""


def lock_key(name: str) -> int:
    """A stable 31-bit key for ``name`` (a study's name, say)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big") & 0x7FFFFFFF


@contextlib.contextmanager
def advisory_lock(engine: Engine | None, key: int) -> Iterator[bool]:
    """Hold PostgreSQL's advisory lock ``(LOCK_NAMESPACE, key)`` in the block.

    Every worker on the same database waits for it in turn. A worker that dies holding it
    loses its connection, and the server releases the lock. Yields whether the block is
    serialized: also on SQLite, which serves one worker (``single_sqlite_worker``), but
    not without an engine (the gRPC proxy), where the block runs unlocked.
    """
    if engine is None or engine.dialect.name != "postgresql":
        yield engine is not None and engine.dialect.name == "sqlite"
        return
    connection = call_with_retries(engine.connect, "advisory lock")
    try:
        call_with_retries(
            lambda: connection.execute(
                text("SELECT pg_advisory_lock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": key}
            ),
            "advisory lock",
        )
        yield True
    finally:
        # A dropped connection has released the lock already.
        with contextlib.suppress(Exception):
            connection.execute(
                text("SELECT pg_advisory_unlock(:ns, :key)"), {"ns": LOCK_NAMESPACE, "key": key}
            )
        with contextlib.suppress(Exception):
            connection.close()


@contextlib.contextmanager
def single_sqlite_worker(url: str | URL) -> Iterator[None]:
    """Refuse a second worker on one SQLite file; anything else passes.

    SQLite locks the whole file for each write, so several processes running trials on it
    meet 'database is locked' errors and can pop one queued trial twice. The lock is a
    ``flock`` on ``<file>.lock`` beside the database, released when the process ends,
    however it ends.
    """
    parsed = url if isinstance(url, URL) else make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or os.name != "posix":
        yield
        return
    import fcntl

    path = Path(f"{database}.lock")
    try:
        lock_file = open(path, "a")  # noqa: SIM115 - closed by the with block below
    except OSError as error:
        raise StorageError(
            f"Cannot write in the folder '{path.parent}' of the SQLite file '{database}': "
            f"lrtune keeps its worker lock '{path.name}' there "
            f"({error.strerror or type(error).__name__})"
        ) from error
    with lock_file as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise StorageError(
                f"Another lrtune worker is running on the SQLite file '{database}', and SQLite "
                "serves one at a time: store the study in PostgreSQL "
                "(--storage postgresql://user:password@host/db) to run several workers."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
