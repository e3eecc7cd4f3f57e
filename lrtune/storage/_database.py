"""``Database``: the database one storage URL names, opened once for every layer.

The URL is resolved (argument, else ``LRTUNE_STORAGE``, else the default) and checked
once, here. One SQLAlchemy engine then serves Optuna's storage, lrtune's range tests, the
workers' locks and the trial counts; the layers above take the ``Database``, never the
string.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from functools import cached_property
from types import TracebackType

import optuna
from optuna.trial import TrialState
from sqlalchemy import text
from sqlalchemy.engine import Engine

from lrtune._optuna import backend_of
from lrtune.storage._batched import BatchedStorage
from lrtune.storage._heartbeat import Heartbeat
from lrtune.storage._locks import advisory_lock, lock_key, single_sqlite_worker
from lrtune.storage._read_only import read_only_studies
from lrtune.storage._resilient import call_with_retries
from lrtune.storage._storage import Storage
from lrtune.storage._studies import grpc_storage, open_rdb_storage
from lrtune.storage._study_marks import StudyMarks, study_marks
from lrtune.storage._url import (
    checked_url,
    create_engine_for,
    grpc_address,
    resolve_url,
    shown_url,
)

_COUNT_SQL = text("SELECT state, COUNT(*) FROM trials WHERE study_id = :study_id GROUP BY state")


class Database:
    """The database at one storage URL, opened: Optuna's storage, range tests, locks, counts.

    Open one with ``Database.open`` (read and write), ``Database.open_read_only`` (the
    dashboard) or ``Database.around`` (an Optuna storage the caller made). Use it as a
    context manager or call ``close()``.

    Attributes:
        url: The storage URL with its password hidden, for messages.
        target: The URL as resolved, password included, for the worker processes this
            one starts (``lrtune study --workers``).
        engine: The one SQLAlchemy engine; ``None`` through the gRPC proxy.
    """

    def __init__(
        self,
        target: str,
        engine: Engine | None,
        studies: optuna.storages.BaseStorage | None,
        *,
        read_only: bool = False,
        stores_range_tests: bool = True,
    ) -> None:
        self.target = target
        self.url = shown_url(target) if "://" in target else target
        self.engine = engine
        self._studies = studies
        self._read_only = read_only
        self._stores_range_tests = stores_range_tests and engine is not None

    @classmethod
    def open(cls, url: str | None = None, *, heartbeat: Heartbeat | None = None) -> Database:
        """The database at ``url``, its Optuna tables created if missing.

        A database URL gives Optuna's RDB storage, every call retried while the database
        is unreachable; ``heartbeat`` turns on heartbeats, with stale trials retried.
        ``grpc://host:port`` connects through ``lrtune storage-proxy``: no engine, no
        range tests, no locks; ``heartbeat`` beats through the proxy, whose own grace
        period fails a silent worker's trial. Raises ``StorageError`` (one line) if it cannot open.
        """
        resolved = resolve_url(url)
        address = grpc_address(resolved)
        if address is not None:
            return cls(resolved, None, grpc_storage(*address, heartbeat))
        backend = open_rdb_storage(checked_url(resolved), heartbeat)
        return cls(resolved, backend.engine, BatchedStorage(backend))

    @classmethod
    def open_read_only(cls, url: str | None = None) -> Database:
        """The database at ``url``, opened so that it refuses writes and creates nothing.

        A database that does not exist is an error; one without Optuna's tables reads as
        one without studies until a first study creates them.
        """
        resolved = resolve_url(url)
        engine = create_engine_for(checked_url(resolved, read_only=True), read_only=True)
        return cls(resolved, engine, read_only_studies(engine), read_only=True)

    @classmethod
    def around(cls, storage: optuna.storages.BaseStorage) -> Database:
        """A ``Database`` for an Optuna storage made elsewhere (``run_study(storage=...)``).

        Its engine, if it has one, serves the locks and counts; range tests are not stored.
        """
        engine = getattr(backend_of(storage), "engine", None)
        engine = engine if isinstance(engine, Engine) else None
        target = type(storage).__name__
        if engine is not None:
            target = engine.url.render_as_string(hide_password=False)
        return cls(target, engine, storage, stores_range_tests=False)

    def __repr__(self) -> str:
        return f"Database({self.url!r})"

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database's connections."""
        if self.engine is not None:
            self.engine.dispose()

    @property
    def studies(self) -> optuna.storages.BaseStorage:
        """Optuna's storage; read-only, an empty one until Optuna's tables exist."""
        if self._studies is None and self.engine is not None:
            self._studies = read_only_studies(self.engine)
        if self._studies is None:
            return optuna.storages.InMemoryStorage()
        return self._studies

    @cached_property
    def range_tests(self) -> Storage | None:
        """lrtune's range tests on the same engine; ``None`` where there are none to keep
        (the gRPC proxy, an Optuna storage made elsewhere)."""
        if not self._stores_range_tests or self.engine is None:
            return None
        return Storage.on_engine(self.engine, read_only=self._read_only)

    def lock(self, name: str) -> contextlib.AbstractContextManager[bool]:
        """Hold the lock ``name`` across every worker on this database (see
        ``advisory_lock``); yields whether the block is serialized."""
        return advisory_lock(self.engine, lock_key(name))

    def one_worker(self) -> contextlib.AbstractContextManager[None]:
        """Refuse a second worker process on one SQLite file (``single_sqlite_worker``)."""
        if self.engine is None:
            return contextlib.nullcontext()
        return single_sqlite_worker(self.engine.url)

    def count_states(self, study_id: int) -> Counter[TrialState]:
        """How many trials of study ``study_id`` are in each state, counted by SQL."""
        engine = self.engine
        if engine is None:
            trials = self.studies.get_all_trials(study_id, deepcopy=False)
            return Counter(trial.state for trial in trials)

        def query() -> Counter[TrialState]:
            with engine.connect() as connection:
                rows = connection.execute(_COUNT_SQL, {"study_id": study_id})
                return Counter({TrialState[str(state)]: int(n) for state, n in rows})

        return call_with_retries(query, "counting trials")

    def study_marks(self, study_id: int) -> StudyMarks | None:
        """Whether study ``study_id`` moved since it was last read (``StudyMarks``), in one
        statement; ``None`` if there is no such study, or no engine to ask."""
        if self.engine is None or isinstance(self.studies, optuna.storages.InMemoryStorage):
            return None  # no Optuna tables yet
        with self.engine.connect() as connection:
            return study_marks(connection, study_id)


def open_study_storage(
    url: str | None = None, *, heartbeat: Heartbeat | None = None
) -> optuna.storages.BaseStorage:
    """Optuna's storage on ``url``, for code that wants only that: ``Database.open``'s."""
    return Database.open(url, heartbeat=heartbeat).studies
