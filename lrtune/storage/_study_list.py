"""What a listing of studies needs to know of each, read with plain SQL on Optuna's tables.

``lrtune studies`` and the dashboard's overview show one line per study: its name,
directions, attributes, trial counts by state, last start and end, and best value. Read
through Optuna's storage, that is every trial of every study (a second and more for a few
thousand trials) after importing Optuna (half a second). Here it is five aggregate
statements, on SQLAlchemy alone: the database counts and takes the extremes; only a study
of several objectives has its complete trials' values read, for its Pareto front.

Tables and columns are named as Optuna's schema names them; states, directions and value
types are stored as their enum names (``"COMPLETE"``, ``"MINIMIZE"``, ``"INF_POS"``).
"""

from __future__ import annotations

import datetime
import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from sqlalchemy import (
    DateTime,
    Float,
    Integer,
    String,
    cast,
    column,
    exc,
    func,
    literal_column,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection, Engine

from lrtune.storage._url import db_errors

OPTUNA_TABLES = ("studies", "trials", "version_info")
"""Tables whose presence says Optuna has written to a database."""

_STUDIES = sql_table("studies", column("study_id", Integer), column("study_name", String))
_DIRECTIONS = sql_table(
    "study_directions",
    column("study_id", Integer),
    column("objective", Integer),
    column("direction"),
)
_ATTRS = sql_table(
    "study_user_attributes",
    column("study_id", Integer),
    column("key", String),
    column("value_json", String),
)
_TRIALS = sql_table(
    "trials",
    column("trial_id", Integer),
    column("study_id", Integer),
    column("state"),
    column("datetime_start", DateTime),
    column("datetime_complete", DateTime),
)
_VALUES = sql_table(
    "trial_values",
    column("trial_id", Integer),
    column("objective", Integer),
    column("value", Float),
    column("value_type"),
)
_COMPLETE: Any = literal_column("'COMPLETE'")
_INFINITE = {"INF_POS": math.inf, "INF_NEG": -math.inf}


@dataclass
class StudyFacts:
    """One study as a listing sees it. Times are naive UTC, as Optuna stores them.

    ``complete_values``: each complete trial's values, for a study of several
    objectives; for one of a single objective, only the least and the greatest value.
    """

    id: int
    name: str
    directions: list[str] = field(default_factory=list)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    last_start: datetime.datetime | None = None
    last_end: datetime.datetime | None = None
    complete_values: list[list[float]] = field(default_factory=list)


def study_facts(engine: Engine) -> list[StudyFacts]:
    """``StudyFacts`` of every study in the database, in the order created (none before
    Optuna wrote to it); ``StorageError`` (one line) if it cannot be read."""
    with db_errors("Cannot list studies"):
        if not has_optuna_tables(engine):
            return []
        try:
            with engine.connect() as connection:
                return read_study_facts(connection)
        except exc.DBAPIError:
            _check_tables(engine)  # another application's tables: say so
            raise


def _check_tables(engine: Engine) -> None:
    from lrtune.storage._clash import check_optuna_tables

    check_optuna_tables(engine, engine.url)


def has_optuna_tables(engine: Engine) -> bool:
    """Whether Optuna has written to the database (else it holds no study)."""
    return set(sqlalchemy.inspect(engine).get_table_names()).issuperset(OPTUNA_TABLES)


def read_study_facts(connection: Connection) -> list[StudyFacts]:
    """``StudyFacts`` of every study, in the order created."""
    studies = {
        row.study_id: StudyFacts(row.study_id, row.study_name)
        for row in connection.execute(
            select(_STUDIES.c.study_id, _STUDIES.c.study_name).order_by(_STUDIES.c.study_id)
        )
    }
    _read_directions(connection, studies)
    _read_attrs(connection, studies)
    _read_counts(connection, studies)
    _read_values(connection, studies)
    return list(studies.values())


def _read_directions(connection: Connection, studies: dict[int, StudyFacts]) -> None:
    d = _DIRECTIONS.c
    query = select(d.study_id, cast(d.direction, String)).order_by(d.study_id, d.objective)
    for study_id, direction in connection.execute(query):
        if study_id in studies:
            studies[study_id].directions.append(direction.lower())


def _read_attrs(connection: Connection, studies: dict[int, StudyFacts]) -> None:
    a = _ATTRS.c
    for study_id, key, value in connection.execute(select(a.study_id, a.key, a.value_json)):
        if study_id in studies:
            studies[study_id].user_attrs[key] = json.loads(value)


def _read_counts(connection: Connection, studies: dict[int, StudyFacts]) -> None:
    t = _TRIALS.c
    state = cast(t.state, String)
    query = select(
        t.study_id,
        state,
        func.count(),
        func.max(t.datetime_start),
        func.max(t.datetime_complete),
    ).group_by(t.study_id, state)
    for study_id, name, count, start, end in connection.execute(query):
        facts = studies.get(study_id)
        if facts is None:
            continue
        facts.counts[name] = count
        facts.last_start = _later(facts.last_start, start)
        facts.last_end = _later(facts.last_end, end)


def _later(
    first: datetime.datetime | None, second: datetime.datetime | None
) -> datetime.datetime | None:
    if first is None or second is None:
        return first or second
    return max(first, second)


def _read_values(connection: Connection, studies: dict[int, StudyFacts]) -> None:
    """The single-objective studies' extremes, and every value of the others."""
    t, v = _TRIALS.c, _VALUES.c
    joined = _TRIALS.join(_VALUES, v.trial_id == t.trial_id)
    value_type = cast(v.value_type, String)
    extremes = (
        select(t.study_id, value_type, func.min(v.value), func.max(v.value))
        .select_from(joined)
        .where(t.state == _COMPLETE, v.objective == 0)
        .group_by(t.study_id, value_type)
    )
    single = {i for i, facts in studies.items() if len(facts.directions) == 1}
    found: dict[int, list[float]] = defaultdict(list)
    for study_id, kind, least, greatest in connection.execute(extremes):
        if study_id in single:
            found[study_id] += [_value(kind, least), _value(kind, greatest)]
    for study_id, values in found.items():
        studies[study_id].complete_values = [[min(values)], [max(values)]]
    several = sorted(i for i, facts in studies.items() if len(facts.directions) > 1)
    if several:
        _read_all_values(connection, studies, several)


def _read_all_values(
    connection: Connection, studies: dict[int, StudyFacts], study_ids: list[int]
) -> None:
    t, v = _TRIALS.c, _VALUES.c
    query = (
        select(t.study_id, t.trial_id, v.objective, v.value, cast(v.value_type, String))
        .select_from(_TRIALS.join(_VALUES, v.trial_id == t.trial_id))
        .where(t.state == _COMPLETE, t.study_id.in_(study_ids))
        .order_by(t.study_id, t.trial_id, v.objective)
    )
    rows: dict[tuple[int, int], list[float]] = defaultdict(list)
    for study_id, trial_id, _, value, kind in connection.execute(query):
        rows[study_id, trial_id].append(_value(kind, value))
    for (study_id, _), values in rows.items():
        studies[study_id].complete_values.append(values)


def _value(kind: str, value: float | None) -> float:
    """A stored value: infinities are stored as their type, with no value."""
    return _INFINITE[kind] if kind in _INFINITE else float(value)  # type: ignore[arg-type]
