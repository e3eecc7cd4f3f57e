"""Optuna's studies opened for reading only, with a study's trials read in bulk.

The dashboard reads whole studies often. Optuna's ORM builds an object per row, about
1.5 s for 2,000 ten-epoch trials on this project's machine; ``ReadOnlyRDBStorage`` reads
the same rows with one Core query per table and builds the same ``FrozenTrial`` objects.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Container, Iterable
from functools import lru_cache
from typing import Any

import optuna
import sqlalchemy
from optuna.distributions import BaseDistribution, json_to_distribution
from optuna.storages import RDBStorage
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import Select, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import scoped_session, sessionmaker

from lrtune._optuna import rdb_models, with_trial_cache
from lrtune.storage._clash import check_optuna_tables
from lrtune.storage._studies import study_errors
from lrtune.storage._url import engine_options, render_url

OPTUNA_TABLES = ("studies", "trials", "version_info")
"""Tables whose presence says Optuna has written to a database."""

models = rdb_models()
_TRIALS = models.TrialModel.__table__
_VALUES = models.TrialValueModel.__table__
_PARAMS = models.TrialParamModel.__table__
_USER_ATTRS = models.TrialUserAttributeModel.__table__
_SYSTEM_ATTRS = models.TrialSystemAttributeModel.__table__
_INTERMEDIATE = models.TrialIntermediateValueModel.__table__


class ReadOnlyRDBStorage(RDBStorage):
    """Optuna's RDB storage on an existing database, for readers.

    It creates no table and runs on ``engine``, whose connections refuse writes when the
    engine was opened read-only (``create_engine_for(url, read_only=True)``). Trials are
    read in bulk (see the module's docstring).
    """

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
        self.get_study_name_from_id(study_id)  # KeyError for a missing study, as Optuna's
        chosen = _trial_filter(study_id, states, included_trial_ids, trial_id_greater_than)
        with self.engine.connect() as connection:
            return _read_trials(connection, chosen)


def read_only_studies(engine: Engine) -> optuna.storages.BaseStorage | None:
    """Optuna's cached storage on ``engine`` for reading; ``None`` if Optuna's tables are
    not there (a database that holds only range tests, or nothing yet)."""
    with study_errors(f"Cannot open storage {render_url(engine.url)}"):
        tables = set(sqlalchemy.inspect(engine).get_table_names())
        if not tables.issuperset(OPTUNA_TABLES):
            return None
        check_optuna_tables(engine, engine.url)
        # The cache keeps finished trials in memory: a reader rereads only the others.
        return with_trial_cache(ReadOnlyRDBStorage(engine))


def _trial_filter(
    study_id: int,
    states: Container[TrialState] | None,
    included_trial_ids: set[int],
    trial_id_greater_than: int,
) -> Select[Any]:
    """The ids of the trials Optuna's ``_get_trials`` would return for these arguments."""
    query = select(_TRIALS.c.trial_id).where(_TRIALS.c.study_id == study_id)
    if states is not None:
        query = query.where(_TRIALS.c.state.in_(list(states)))  # type: ignore[call-overload]
    if trial_id_greater_than > -1:
        newer = _TRIALS.c.trial_id > trial_id_greater_than
        included = [i for i in included_trial_ids if i <= trial_id_greater_than]
        query = query.where(newer | _TRIALS.c.trial_id.in_(included) if included else newer)
    return query


def _read_trials(connection: Connection, chosen: Select[Any]) -> list[FrozenTrial]:
    ids = chosen.scalar_subquery()
    trials = connection.execute(
        select(_TRIALS).where(_TRIALS.c.trial_id.in_(ids)).order_by(_TRIALS.c.trial_id)
    ).all()
    children = {
        name: _grouped(connection, table, order, ids)
        for name, (table, order) in {
            "values": (_VALUES, _VALUES.c.objective),
            "params": (_PARAMS, _PARAMS.c.param_id),
            "user_attrs": (_USER_ATTRS, _USER_ATTRS.c.trial_user_attribute_id),
            "system_attrs": (_SYSTEM_ATTRS, _SYSTEM_ATTRS.c.trial_system_attribute_id),
            "intermediate": (_INTERMEDIATE, _INTERMEDIATE.c.step),
        }.items()
    }
    return [
        _frozen(row, {n: rows.get(row.trial_id, []) for n, rows in children.items()})
        for row in trials
    ]


def _grouped(
    connection: Connection, table: sqlalchemy.Table, order: Any, ids: Any
) -> dict[int, list[Any]]:
    grouped: dict[int, list[Any]] = defaultdict(list)
    query = select(table).where(table.c.trial_id.in_(ids)).order_by(table.c.trial_id, order)
    for row in connection.execute(query):
        grouped[row.trial_id].append(row)
    return grouped


def _frozen(trial: Any, children: dict[str, list[Any]]) -> FrozenTrial:
    """What Optuna's ``_build_frozen_trial_from_trial_model`` builds from the same rows."""
    params = children["params"]
    distributions = {p.param_name: _distribution(p.distribution_json) for p in params}
    return FrozenTrial(
        number=trial.number,
        state=trial.state,
        value=None,
        values=_values(children["values"]),
        datetime_start=trial.datetime_start,
        datetime_complete=trial.datetime_complete,
        params={
            p.param_name: distributions[p.param_name].to_external_repr(p.param_value)
            for p in params
        },
        distributions=distributions,
        user_attrs=_attrs(children["user_attrs"]),
        system_attrs=_attrs(children["system_attrs"]),
        intermediate_values={
            v.step: _INTERMEDIATE_VALUE(v.intermediate_value, v.intermediate_value_type)
            for v in children["intermediate"]
        },
        trial_id=trial.trial_id,
    )


_VALUE: Callable[..., float] = models.TrialValueModel.stored_repr_to_value
_INTERMEDIATE_VALUE: Callable[..., float] = (
    models.TrialIntermediateValueModel.stored_repr_to_intermediate_value
)


def _values(rows: list[Any]) -> list[float] | None:
    if not rows:
        return None
    values = [0.0] * (max(r.objective for r in rows) + 1)
    for row in rows:
        values[row.objective] = _VALUE(row.value, row.value_type)
    return values


def _attrs(rows: Iterable[Any]) -> dict[str, Any]:
    return {row.key: json.loads(row.value_json) for row in rows}


@lru_cache(maxsize=1024)
def _distribution(text: str) -> BaseDistribution:
    # Every trial of a study repeats a handful of distributions; parse each once.
    return json_to_distribution(text)
