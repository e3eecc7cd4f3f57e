"""Optuna's studies opened for reading only, with a study's trials read in bulk.

The dashboard reads whole studies often. Optuna's ORM builds an object per row, about
1.5 s for 2,000 ten-epoch trials on this project's machine; ``ReadOnlyRDBStorage`` reads
the same rows packed by the database, one row per trial (``_packed_trials``), and builds
the same ``FrozenTrial`` objects.
"""

from __future__ import annotations

from collections.abc import Collection, Container

import optuna
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import scoped_session, sessionmaker

from lrtune._optuna import backend_of, with_trial_cache
from lrtune.storage._clash import check_optuna_tables
from lrtune.storage._packed_trials import read_light_trials, read_packed_trials
from lrtune.storage._studies import study_errors
from lrtune.storage._study_list import has_optuna_tables
from lrtune.storage._trial_sql import study_exists
from lrtune.storage._url import engine_options, render_url


class ReadOnlyRDBStorage(RDBStorage):
    """Optuna's RDB storage on an existing database, for readers.

    It creates no table and runs on ``engine``, whose connections refuse writes when the
    engine was opened read-only (``create_engine_for(url, read_only=True)``). Trials are
    read in bulk (see the module's docstring), in full unless it is ``lighter``.
    """

    leave_out: frozenset[str] | None = None
    """``None``: trials are read in full; else as ``LightTrial`` objects, without the user
    attributes it names."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url.render_as_string(hide_password=False)
        options = engine_options(engine.url, read_only=True)
        super().__init__(url, engine_kwargs=options, skip_table_creation=True)
        # Optuna's constructor opened an engine of its own for its version check; the
        # storage moves onto the database's one.
        self.engine.dispose()
        self.engine = engine
        self.scoped_session = scoped_session(sessionmaker(bind=engine))

    def _get_trials(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        with self.engine.connect() as connection:
            trials = self._read(
                connection, study_id, states, included_trial_ids, trial_id_greater_than
            )
            # Only a first read asks whether an empty answer means no study: a later one
            # (the trial cache's, of the trials new or unfinished) is empty most times.
            first = trial_id_greater_than < 0 and not included_trial_ids
            if not trials and first and not study_exists(connection, study_id):
                raise KeyError(f"No study with study_id {study_id} exists.")  # as Optuna's
            return trials

    def lighter(self, leave_out: Collection[str]) -> ReadOnlyRDBStorage:
        """This storage (its engine and sessions: no new engine, no version check),
        reading trials as ``LightTrial`` objects without the user attributes
        ``leave_out`` names (``read_light_trials``)."""
        light = object.__new__(type(self))
        light.__dict__.update(self.__dict__)
        light.leave_out = frozenset(leave_out)
        return light

    def _read(
        self,
        connection: Connection,
        study_id: int,
        states: Container[TrialState] | None,
        included_trial_ids: set[int],
        trial_id_greater_than: int,
    ) -> list[FrozenTrial]:
        if self.leave_out is None:
            return read_packed_trials(
                connection, study_id, states, included_trial_ids, trial_id_greater_than
            )
        light = read_light_trials(
            connection,
            study_id,
            states,
            included_trial_ids,
            trial_id_greater_than,
            self.leave_out,
        )
        return list(light)


def read_only_studies(engine: Engine) -> optuna.storages.BaseStorage | None:
    """Optuna's cached storage on ``engine`` for reading; ``None`` if Optuna's tables are
    not there (a database that holds only range tests, or nothing yet)."""
    with study_errors(f"Cannot open storage {render_url(engine.url)}"):
        if not has_optuna_tables(engine):
            return None
        check_optuna_tables(engine, engine.url)
        # The cache keeps finished trials in memory: a reader rereads only the others.
        return with_trial_cache(ReadOnlyRDBStorage(engine))


def light_studies(
    studies: optuna.storages.BaseStorage, leave_out: Collection[str]
) -> optuna.storages.BaseStorage | None:
    """Over the backend of ``studies`` (``read_only_studies``), a trial cache of its own
    whose trials are ``LightTrial`` objects without the user attributes ``leave_out``
    names; ``None`` if ``studies`` is not such a storage."""
    backend = backend_of(studies)
    if not isinstance(backend, ReadOnlyRDBStorage):
        return None
    return with_trial_cache(backend.lighter(leave_out))
