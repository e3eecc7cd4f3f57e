"""A pytest plugin that runs Optuna's own tests against lrtune's classes.

``test_optuna_upstream.py`` beside it runs Optuna's tests in a subprocess with
``-p optuna_upstream_plugin``. Loaded before Optuna's test modules are imported, the plugin:

- replaces ``optuna.testing.storages.StorageSupplier`` and its lists of modes, so that the
  storage tests run on the modes below, on SQLite files or on a PostgreSQL database
  (``--backend``);
- with ``--optuna-classes=lrtune`` (the default), swaps lrtune's classes in where Optuna's
  tests name Optuna's: ``optuna.samplers.TPESampler`` is ``OneReadTPESampler`` and
  ``optuna.pruners.MedianPruner`` is ``WarmupFirstMedianPruner``; in the test modules that
  build storages themselves, ``RDBStorage`` is ``ResilientRDBStorage`` and ``_CachedStorage``
  is ``BatchedStorage``; and the pruner and TPE tests' studies, in memory in Optuna's own
  run, live in lrtune's storage, which both read through (``_studies_in_lrtune_storage``);
- with ``--optuna-classes=optuna``, runs the same modes on Optuna's own classes, for the
  harness to check that a test it expects to fail on lrtune's fails on Optuna's too (or
  passes there, where lrtune differs);
- selects the tests that matter for each mode (``_selected``);
- writes every test's outcome to ``--outcomes`` (JSON).

The storage modes, each on an empty database:

- ``claimed``: a worker's storage (lrtune: ``BatchedStorage`` over ``ResilientRDBStorage``,
  what ``Database.open().studies`` returns), each new trial made as an lrtune worker makes
  one: claimed in one transaction, then run by this process, its writes held and batched.
- ``other_worker``: writes through the RDB storage, every read through a second worker's
  storage on the same database (lrtune: ``Database.open().studies``). A storage's trial
  cache holds the trials its own process wrote; this one reads them all from the database,
  as a worker reads the others'.
- ``read_only``: writes as ``other_worker``, reads through a storage opened as a reader
  opens one (lrtune: ``Database.open_read_only().studies``, ``ReadOnlyRDBStorage`` behind
  the trial cache, on connections that refuse writes). ``ReadOnlyRDBStorage`` cannot
  write, and each of Optuna's tests writes what it reads, so its tests run on the pair.
- ``cached``: a worker's storage whose trials are made as Optuna makes them, for the
  heartbeat tests and for Optuna's tests that ask for ``"cached_sqlite"`` by name.
- ``rdb``: the RDB storage alone (lrtune: ``ResilientRDBStorage``), for Optuna's tests that
  ask for ``"sqlite"`` by name.

Each runs on ``--backend``, whatever the name a test asks by.
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import sys
import tempfile
import types
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import optuna
import pytest
import sqlalchemy
from optuna.storages import BaseStorage, RDBStorage
from sqlalchemy.engine import make_url

from lrtune._optuna import rdb_models
from lrtune.storage import BatchedStorage, Claiming, Database, lock_key
from lrtune.storage._resilient import ResilientRDBStorage
from lrtune.storage._url import configure_engine, engine_options
from lrtune.study._choices import OneReadTPESampler, WarmupFirstMedianPruner

MODES = ["claimed", "other_worker", "read_only"]
HEARTBEAT_MODES = ["cached", "claimed"]
_ALIASES = {"sqlite": "rdb", "cached_sqlite": "cached"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("optuna_upstream", "Optuna's tests on lrtune's classes")
    group.addoption("--optuna-classes", choices=("lrtune", "optuna"), default="lrtune")
    group.addoption("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    group.addoption("--postgres-admin-url", help="the PostgreSQL server to make a database on")
    group.addoption("--outcomes", help="write each test's outcome here (JSON)")


# --- which tests run -------------------------------------------------------------------------
# Optuna's ORM writes each storage test's data, most of the CPU time these tests take; each
# mode runs the tests of what lrtune changes in it.

# Tests that read trials back, which lrtune's bulk readers serve (``_trial_sql``,
# ``_packed_trials``).
_READS_TRIALS = re.compile(r"test_get_(all_trials|n_trials|trial)")
# The heartbeat tests that sleep (3 s each) run on ``claimed`` alone: lrtune's heartbeat
# statement is ``BatchedStorage``'s in both modes, and ``claimed`` also holds the trial's
# parameters that a retry must carry over.
_HEARTBEAT_QUICK = {
    "test_repeatedly_called_record_heartbeat",
    "test_invalid_heartbeat_interval_and_grace_period",
    "test_heartbeat_experimental_warnings",
}
_HEARTBEAT_SLEEPING = {
    "test_fail_stale_trials_with_optimize",
    "test_retry_heartbeat_stale_trial_callback_intermediate",
}


def _selected(item: pytest.Function) -> bool:
    """Whether Optuna's test ``item`` runs here (the same in both ``--optuna-classes``)."""
    params = getattr(item, "callspec", None)
    params = params.params if params is not None else {}
    mode = params.get("storage", params.get("storage_mode"))
    name = item.originalname
    if item.module.__name__.endswith("storages_tests.test_storages") and mode is not None:
        if name == "test_get_best_trial":
            # Optuna's own query, then ``get_trial``: once per direction, with both infinities.
            return mode == "claimed" and len(params["values"]) == 4
        if mode == "claimed":
            # All but ``get_all_studies`` (ten studies of ten trials), Optuna's own calls.
            return name != "test_get_all_studies"
        return bool(_READS_TRIALS.match(name))
    if item.module.__name__.endswith("storages_tests.test_heartbeat"):
        if name in _HEARTBEAT_SLEEPING:
            return mode == "claimed" and params.get("max_retry", 1) == 1
        return name in _HEARTBEAT_QUICK
    return True


# --- where the storages live -------------------------------------------------------------


class _Databases:
    """Empty databases for the storages: SQLite files in a temporary folder, or one
    PostgreSQL database made for the run and emptied before each storage (making one per
    storage would take the server about half a second each)."""

    def __init__(self, backend: str, admin_url: str | None) -> None:
        self.backend = backend
        self._folder = Path(tempfile.mkdtemp(prefix="optuna-upstream-"))
        self._admin: sqlalchemy.Engine | None = None
        self._url = ""
        if backend == "postgresql":
            if not admin_url:
                raise pytest.UsageError("--backend=postgresql needs --postgres-admin-url")
            self._admin = sqlalchemy.create_engine(admin_url, isolation_level="AUTOCOMMIT")
            name = f"lrtune_optuna_{uuid.uuid4().hex[:8]}"
            with self._admin.connect() as connection:
                connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
                # Commits need not wait for the disk: nothing here outlives the run.
                connection.exec_driver_sql(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
            self._url = self._admin.url.set(database=name).render_as_string(hide_password=False)
            self._emptier = sqlalchemy.create_engine(self._url)

    def empty(self) -> str:
        """The URL of a database without studies (Optuna's version table may stay)."""
        if self.backend == "sqlite":
            return f"sqlite:///{self._folder / uuid.uuid4().hex}.db"
        with self._emptier.begin() as connection:
            # Rows, not tables: DELETE takes a tenth of TRUNCATE's time on such small tables.
            tables = set(sqlalchemy.inspect(connection).get_table_names())
            for table in reversed(rdb_models().BaseModel.metadata.sorted_tables):
                if table.name in tables and table.name != "version_info":
                    connection.execute(table.delete())
        return self._url

    def close(self) -> None:
        shutil.rmtree(self._folder, ignore_errors=True)
        if self._admin is None:
            return
        self._emptier.dispose()
        name = make_url(self._url).database
        with self._admin.connect() as connection:
            # FORCE ends connections a test left open (an unpickled storage's, say).
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.dispose()


_databases: _Databases | None = None
_lrtune = True


# --- the storages --------------------------------------------------------------------------


def _rdb(url: str, **kwargs: Any) -> RDBStorage:
    """The RDB storage on ``url``. lrtune's is built as ``open_rdb_storage`` builds it, with
    the test's own arguments (heartbeat callbacks) in place of lrtune's ``Heartbeat``."""
    if not _lrtune:
        # As Optuna's own StorageSupplier opens SQLite.
        options = {"connect_args": {"timeout": 300}} if url.startswith("sqlite") else {}
        return RDBStorage(url, engine_kwargs=options, **kwargs)
    storage = ResilientRDBStorage(url, engine_kwargs=engine_options(make_url(url)), **kwargs)
    configure_engine(storage.engine)
    return storage


class _ClaimingStorage(BatchedStorage):
    """``BatchedStorage`` whose new trials are made as a worker makes one (``claim_trial``):
    in one transaction that finds the study and takes a trial, then adopted."""

    def create_new_trial(self, study_id: int, template_trial: Any = None) -> int:
        if template_trial is not None:
            return int(super().create_new_trial(study_id, template_trial))

        def take(claiming: Claiming) -> int:
            claiming.census(study_id)
            return claiming.create(study_id)

        trial_id, claiming = self.claim(lock_key(f"budget:{study_id}"), take)
        claiming.adopt_created()
        return trial_id


_WRITES = frozenset(
    {
        "create_new_study",
        "delete_study",
        "set_study_user_attr",
        "set_study_system_attr",
        "create_new_trial",
        "set_trial_param",
        "set_trial_state_values",
        "set_trial_intermediate_value",
        "set_trial_user_attr",
        "set_trial_system_attr",
    }
)


class _WriteThenRead(BaseStorage):
    """Writes go to ``writer``; every other call, all reads, to ``reader``, a second storage
    on the same database."""

    def __init__(self, writer: BaseStorage, reader: BaseStorage) -> None:
        self.writer = writer
        self.reader = reader


def _forward(name: str) -> Callable[..., Any]:
    def call(self: _WriteThenRead, *args: Any, **kwargs: Any) -> Any:
        target = self.writer if name in _WRITES else self.reader
        return getattr(target, name)(*args, **kwargs)

    call.__name__ = name
    return call


for _name, _ in inspect.getmembers(BaseStorage, inspect.isfunction):
    if not _name.startswith("_"):
        setattr(_WriteThenRead, _name, _forward(_name))
_WriteThenRead.__abstractmethods__ = frozenset()


class StorageSupplier(AbstractContextManager):
    """``optuna.testing.storages.StorageSupplier`` for this run's modes and backend."""

    def __init__(self, storage_specifier: str, **kwargs: Any) -> None:
        self.mode = _ALIASES.get(storage_specifier, storage_specifier)
        if self.mode not in [*MODES, "cached", "rdb"]:
            raise ValueError(f"Storage mode {storage_specifier!r} is not run here.")
        self.extra_args = kwargs
        self._closers: list[Callable[[], None]] = []

    def __enter__(self) -> Any:
        assert _databases is not None
        url = _databases.empty()
        backend = _rdb(url, **self.extra_args)
        self._closers.append(backend.engine.dispose)
        if self.mode == "rdb":
            return backend
        if self.mode in ("other_worker", "read_only"):
            return _WriteThenRead(backend, self._reader(url))  # type: ignore[abstract]
        if not _lrtune:
            return optuna.storages._CachedStorage(backend)
        assert isinstance(backend, ResilientRDBStorage)
        return (_ClaimingStorage if self.mode == "claimed" else BatchedStorage)(backend)

    def _reader(self, url: str) -> BaseStorage:
        if _lrtune:
            open_database = (
                Database.open if self.mode == "other_worker" else Database.open_read_only
            )
            database = open_database(url)
            self._closers.append(database.close)
            return database.studies
        reader = _rdb(url)
        self._closers.append(reader.engine.dispose)
        return optuna.storages._CachedStorage(reader)

    def __exit__(self, *exc_info: object) -> None:
        for close in reversed(self._closers):
            close()


# --- swapping the classes in -----------------------------------------------------------------


def _allow_without_fakeredis() -> None:
    """``optuna.testing.storages`` imports ``fakeredis`` for a Redis mode not run here; a
    stand-in lets it import where that package is not installed."""
    try:
        import fakeredis  # noqa: F401
    except ImportError:
        stand_in = types.ModuleType("fakeredis")

        def refuse(*args: object, **kwargs: object) -> None:
            raise RuntimeError("fakeredis is not installed; the Redis mode is not run here")

        stand_in.FakeStrictRedis = refuse  # type: ignore[attr-defined]
        sys.modules["fakeredis"] = stand_in


# lrtune's classes for Optuna's, in the test modules that build storages themselves rather
# than through StorageSupplier. Elsewhere the names stay Optuna's: test_storages.py checks
# that ``get_storage`` returns Optuna's ``_CachedStorage``, as it still does.
_IN_MODULES: dict[str, dict[str, type]] = {
    "tests.storages_tests.test_cached_storage": {
        "RDBStorage": ResilientRDBStorage,
        "_CachedStorage": BatchedStorage,
    },
    "tests.storages_tests.test_heartbeat": {"RDBStorage": ResilientRDBStorage},
}


def pytest_configure(config: pytest.Config) -> None:
    global _databases, _lrtune
    _lrtune = config.getoption("--optuna-classes") == "lrtune"
    _databases = _Databases(config.getoption("--backend"), config.getoption("--postgres-admin-url"))
    _allow_without_fakeredis()
    from optuna.testing import storages

    storages.STORAGE_MODES[:] = MODES
    storages.STORAGE_MODES_HEARTBEAT[:] = HEARTBEAT_MODES
    storages.StorageSupplier = StorageSupplier  # type: ignore[misc, assignment]
    if _lrtune:
        optuna.samplers.TPESampler = OneReadTPESampler  # type: ignore[misc]
        optuna.pruners.MedianPruner = WarmupFirstMedianPruner  # type: ignore[misc]


def pytest_unconfigure(config: pytest.Config) -> None:
    if _databases is not None:
        _databases.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    functions = [item for item in items if isinstance(item, pytest.Function)]
    left_out = [item for item in functions if not _selected(item)]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if item not in left_out]
    if not _lrtune:
        return
    for module in {item.module for item in functions}:
        for name, replacement in _IN_MODULES.get(module.__name__, {}).items():
            assert name in vars(module), f"{module.__name__} no longer uses {name}"
            setattr(module, name, replacement)


@pytest.fixture(autouse=True, scope="module")
def _studies_in_lrtune_storage(request: pytest.FixtureRequest) -> Iterator[None]:
    """The pruner and TPE tests' studies, in memory in Optuna's own run, in the ``claimed``
    storage: there ``WarmupFirstMedianPruner`` reads through ``completed_at_step`` and
    ``OneReadTPESampler`` through ``trials_for_sampling``, both ``BatchedStorage``'s.

    One storage serves a whole module: each test makes studies of its own in it, and a
    database per test would cost more than most of these tests.
    """
    if not any(f".{tests}." in request.module.__name__ for tests in ("pruners_tests", "tpe_tests")):
        yield
        return
    with StorageSupplier("claimed") as storage, pytest.MonkeyPatch.context() as patch:
        create_study = optuna.study.create_study

        def in_storage(*args: Any, **kwargs: Any) -> optuna.Study:
            if kwargs.get("storage") is None:
                kwargs["storage"] = storage
            return create_study(*args, **kwargs)

        patch.setattr(optuna.study, "create_study", in_storage)
        patch.setattr(optuna, "create_study", in_storage)
        yield


# --- outcomes ----------------------------------------------------------------------------------

_outcomes: dict[str, str] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # A failure in setup or teardown fails the test, as pytest counts it.
    counts = report.when == "call" or report.outcome != "passed"
    if counts and _outcomes.get(report.nodeid) in (None, "passed"):
        _outcomes[report.nodeid] = report.outcome


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if report.failed:
        _outcomes[report.nodeid or "(collection)"] = "failed"


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = session.config.getoption("--outcomes")
    if path:
        Path(path).write_text(json.dumps(_outcomes, indent=1))
