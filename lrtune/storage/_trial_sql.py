"""A trial's reads and writes as few SQL statements on Optuna's own tables.

Optuna's ``RDBStorage`` makes one transaction of several statements per value: per
parameter, per attribute, per reported epoch. The functions here write the same rows in
Optuna's own format (``optuna.load_study`` and optuna-dashboard read them as Optuna's),
each in one statement on a connection the caller holds in a transaction: several
parameters or attributes at once, a reported value together with the check that its trial
still runs, a trial's whole record read in two statements.

Datetimes are written as Optuna writes them: naive UTC.
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from collections.abc import Callable, Collection, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from types import SimpleNamespace
from typing import Any

from optuna import distributions
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import (
    Integer,
    String,
    Table,
    and_,
    any_,
    bindparam,
    cast,
    exists,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from lrtune._optuna import rdb_models

MAX_IDS_IN_LIST = 10_000
"""The most trial ids one ``IN`` list holds (SQLite allows 32,766 variables, PostgreSQL
65,535); a longer list is read by id range and filtered here, as Optuna falls back."""


def utc_now() -> datetime.datetime:
    """Now as Optuna stores it: naive UTC."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


def _local(stamp: datetime.datetime | None) -> datetime.datetime | None:
    """A stored naive-UTC datetime as Optuna reads it: naive local time."""
    if stamp is None:
        return None
    offset = _utc_offset((stamp - _EPOCH) // _WINDOW)
    if offset is None:
        return stamp.replace(tzinfo=datetime.timezone.utc).astimezone().replace(tzinfo=None)
    return stamp + offset


OFFSET_WINDOW_S = 900
"""``_local`` looks the local time's offset up once per this many seconds of UTC time:
the local time zone's lookup costs more than the rest of building a trial, twice a trial."""
_WINDOW = datetime.timedelta(seconds=OFFSET_WINDOW_S)
_EPOCH = datetime.datetime(1970, 1, 1)


@lru_cache(maxsize=4096)
def _utc_offset(window: int) -> datetime.timedelta | None:
    """The local time's offset from UTC throughout ``window`` (``OFFSET_WINDOW_S`` seconds
    of UTC time from ``window * OFFSET_WINDOW_S``), or ``None`` where it changes within it
    (a daylight saving switch): each time is converted on its own there."""
    start = window * OFFSET_WINDOW_S
    first, last = (_offset_at(start), _offset_at(start + OFFSET_WINDOW_S - 1))
    return first if first == last else None


def _offset_at(seconds: int) -> datetime.timedelta | None:
    moment = datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)
    return moment.astimezone().utcoffset()


class _Tables:
    """Optuna's tables, looked up once."""

    def __init__(self) -> None:
        models = rdb_models()
        self.models = models
        self.trials: Table = models.TrialModel.__table__
        self.params: Table = models.TrialParamModel.__table__
        self.values: Table = models.TrialValueModel.__table__
        self.intermediate: Table = models.TrialIntermediateValueModel.__table__
        self.user_attrs: Table = models.TrialUserAttributeModel.__table__
        self.system_attrs: Table = models.TrialSystemAttributeModel.__table__
        self.heartbeats: Table = models.TrialHeartbeatModel.__table__
        self.studies: Table = models.StudyModel.__table__


_TABLES: _Tables | None = None


def tables() -> _Tables:
    global _TABLES
    if _TABLES is None:
        _TABLES = _Tables()
    return _TABLES


_STATEMENTS: dict[tuple[str, str], Any] = {}


def _statement(connection: Connection, name: str, build: Callable[[Any], Any]) -> Any:
    """The statement ``name`` for the connection's dialect, built once: a statement built
    anew on every call costs more to compile than the database takes to run it."""
    key = (connection.dialect.name, name)
    if key not in _STATEMENTS:
        dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
        _STATEMENTS[key] = build(dialect)
    return _STATEMENTS[key]


def _upsert(dialect: Any, table: Table, keys: Sequence[str]) -> Any:
    """An ``INSERT ... ON CONFLICT (keys) DO UPDATE`` of every other column."""
    statement = dialect.insert(table)
    changed = {
        c.name: statement.excluded[c.name]
        for c in table.columns
        if c.name not in keys and not c.primary_key
    }
    return statement.on_conflict_do_update(index_elements=list(keys), set_=changed)


def _is_running() -> Any:
    t = tables().trials
    return exists().where(t.c.trial_id == bindparam("trial_id"), t.c.state == TrialState.RUNNING)


# --- writes ---------------------------------------------------------------------------------


def lock_running(connection: Connection, trial_id: int) -> TrialState | None:
    """Lock a trial's row for this transaction; its state, or None if there is no such trial."""

    def build(_: Any) -> Any:
        t = tables().trials
        return select(t.c.state).where(t.c.trial_id == bindparam("trial_id")).with_for_update()

    query = _statement(connection, "lock_running", build)
    return connection.execute(query, {"trial_id": trial_id}).scalar_one_or_none()


def write_params(
    connection: Connection,
    trial_id: int,
    params: Mapping[str, tuple[float, distributions.BaseDistribution]],
) -> None:
    """Insert a trial's parameters (internal values, with their distributions)."""
    rows = [
        {
            "trial_id": trial_id,
            "param_name": name,
            "param_value": value,
            "distribution_json": distributions.distribution_to_json(distribution),
        }
        for name, (value, distribution) in params.items()
    ]
    if rows:
        # An upsert: a transaction run again after its commit's reply was lost writes alike.
        table = tables().params
        upsert = _statement(
            connection, "params", lambda d: _upsert(d, table, ("trial_id", "param_name"))
        )
        connection.execute(upsert, rows)


def stored_distributions(
    connection: Connection, study_id: int, names: Iterable[str]
) -> dict[str, distributions.BaseDistribution]:
    """One stored distribution per parameter name of the study (what Optuna checks new
    parameters against)."""
    wanted = sorted(set(names))
    if not wanted:
        return {}

    def build(_: Any) -> Any:
        p, t = tables().params, tables().trials
        return (
            select(p.c.param_name, func.min(p.c.distribution_json))
            .join(t, t.c.trial_id == p.c.trial_id)
            .where(
                t.c.study_id == bindparam("study_id"),
                p.c.param_name.in_(bindparam("names", expanding=True)),
            )
            .group_by(p.c.param_name)
        )

    query = _statement(connection, "stored_distributions", build)
    rows = connection.execute(query, {"study_id": study_id, "names": wanted})
    return {name: distributions.json_to_distribution(text) for name, text in rows}


def write_attrs(
    connection: Connection, trial_id: int, attrs: Mapping[str, Any], *, system: bool
) -> None:
    """Insert or replace a trial's user (or system) attributes, as JSON."""
    if not attrs:
        return
    table = tables().system_attrs if system else tables().user_attrs
    rows = [
        {"trial_id": trial_id, "key": key, "value_json": json.dumps(value)}
        for key, value in attrs.items()
    ]
    upsert = _statement(
        connection, table.name, lambda dialect: _upsert(dialect, table, ("trial_id", "key"))
    )
    connection.execute(upsert, rows)


def write_intermediate(
    connection: Connection,
    trial_id: int,
    step: int,
    value: float,
    *,
    checked: bool,
    wait_for_disk: bool = True,
) -> bool:
    """Insert or replace a reported value; ``checked``: the caller already knows the trial
    runs. Otherwise the value is written only if it does: whether it was. Without
    ``wait_for_disk`` an unchecked write lets its transaction commit lazily
    (``_commit_lazily``)."""
    row = _intermediate_row(trial_id, step, value)
    if checked:
        keys = ("trial_id", "step")
        table = tables().intermediate
        upsert = _statement(connection, "intermediate", lambda d: _upsert(d, table, keys))
        connection.execute(upsert, [row])
        return True
    name = f"intermediate_if_running_{wait_for_disk}"
    statement = _statement(connection, name, _intermediate_if_running(wait_for_disk))
    return connection.execute(statement, row).first() is not None


def _intermediate_row(trial_id: int, step: int, value: float) -> dict[str, Any]:
    model = tables().models.TrialIntermediateValueModel
    stored, kind = model.intermediate_value_to_stored_repr(value)
    return {
        "trial_id": trial_id,
        "step": step,
        "intermediate_value": stored,
        "intermediate_value_type": kind,
    }


def _intermediate_if_running(wait_for_disk: bool) -> Callable[[Any], Any]:
    """A builder of the upsert of a reported value that writes only if the trial runs,
    returning a row if it wrote; without ``wait_for_disk``, committed lazily."""

    def build(dialect: Any) -> Any:
        table = tables().intermediate
        columns = [table.c[name] for name in _intermediate_row(0, 0, 0.0)]
        # Typed, so that PostgreSQL takes the enum from a SELECT as it would from VALUES.
        typed = [cast(bindparam(c.name, type_=c.type), c.type) for c in columns]
        source = select(*typed).where(_is_running())
        if not wait_for_disk and dialect is postgresql:
            source = source.where(_commit_lazily())
        upsert = _upsert(dialect, table, ("trial_id", "step"))
        return upsert.from_select([c.name for c in columns], source).returning(table.c.step)

    return build


def _commit_lazily() -> Any:
    """A true condition that makes PostgreSQL commit the statement's transaction without
    waiting for its log to reach the disk (``synchronous_commit`` off for this transaction).

    For reported values only: a server crash (not a restart, which flushes) can lose the
    last few hundred milliseconds of them (at most three ``wal_writer_delay``), never
    anything else, and never out of order: the log is written in order, so the trial's end,
    committed durably, makes every value it reported before durable too. Waiting for the
    disk at each of a trial's ten reports costs from 0.1 ms to several ms a report, by the
    disk and its load (``benchmarks/storage_calls.py``).
    """
    return func.set_config("synchronous_commit", "off", True).is_not(None)


def report_and_read_completed(
    connection: Connection,
    study_id: int,
    trial_id: int,
    step: int,
    value: float,
    *,
    wait_for_disk: bool = True,
) -> tuple[bool, tuple[int, list[float]]]:
    """``write_intermediate`` (written only if the trial runs: whether it was) and
    ``completed_at_step`` at the same step, in one round trip on PostgreSQL (the write is a
    data-modifying ``WITH``; its rows are told apart from the completed trials' by a first
    column of 0) and two statements elsewhere."""
    if connection.dialect.name != "postgresql":
        written = write_intermediate(connection, trial_id, step, value, checked=False)
        return written, completed_at_step(connection, study_id, step)
    name = f"report_and_read_completed_{wait_for_disk}"
    statement = _statement(connection, name, _report_and_read(wait_for_disk))
    parameters = _intermediate_row(trial_id, step, value) | {"study": study_id}
    rows = connection.execute(statement, parameters).all()
    written = any(row[0] == 0 for row in rows)
    return written, _completed_values([row[1:] for row in rows if row[0] == 1])


def _report_and_read(wait_for_disk: bool) -> Callable[[Any], Any]:
    """A builder of ``report_and_read_completed``'s statement (PostgreSQL)."""

    def build(dialect: Any) -> Any:
        v = tables().intermediate
        written = _intermediate_if_running(wait_for_disk)(dialect).cte("written")
        nothing = [
            cast(literal(None), c.type)
            for c in (v.c.intermediate_value, v.c.intermediate_value_type)
        ]
        marker = select(literal(0), *nothing).select_from(written)
        return union_all(marker, _completed_query(literal(1)))

    return build


def finish(
    connection: Connection, trial_id: int, state: TrialState, values: Sequence[float] | None
) -> bool:
    """Mark a running trial finished, with its values; whether it was running."""

    def build(_: Any) -> Any:
        t = tables().trials
        return (
            update(t)
            .where(t.c.trial_id == bindparam("id"), t.c.state == TrialState.RUNNING)
            .values(state=bindparam("new_state"), datetime_complete=bindparam("complete"))
        )

    statement = _statement(connection, "finish", build)
    changed = connection.execute(
        statement, {"id": trial_id, "new_state": state, "complete": utc_now()}
    ).rowcount
    if not changed:
        return False
    model = tables().models.TrialValueModel
    rows = []
    for objective, value in enumerate(values or ()):
        stored, kind = model.value_to_stored_repr(value)
        rows.append(
            {"trial_id": trial_id, "objective": objective, "value": stored, "value_type": kind}
        )
    if rows:
        table = tables().values
        upsert = _statement(
            connection, "values", lambda d: _upsert(d, table, ("trial_id", "objective"))
        )
        connection.execute(upsert, rows)
    return True


def create_trial(
    connection: Connection, study_id: int, start: datetime.datetime
) -> tuple[int, int]:
    """A new running trial of the study, numbered by the insert itself: its id and number.

    The caller holds the study's row lock (``census``), as Optuna holds it to number a
    trial, so numbers stay unique beside Optuna's own processes.
    """

    def build(_: Any) -> Any:
        t = tables().trials
        count = select(func.count()).select_from(t).where(t.c.study_id == bindparam("study"))
        return (
            insert(t)
            .values(
                number=count.scalar_subquery(),
                study_id=bindparam("study"),
                state=TrialState.RUNNING,
                datetime_start=bindparam("start"),
            )
            .returning(t.c.trial_id, t.c.number)
        )

    statement = _statement(connection, "create_trial", build)
    row = connection.execute(statement, {"study": study_id, "start": start}).one()
    return int(row.trial_id), int(row.number)


def pop_waiting(connection: Connection, study_id: int, start: datetime.datetime) -> int | None:
    """Set the oldest waiting trial of the study running; its id, or None if none waits."""

    def build(_: Any) -> Any:
        t = tables().trials
        oldest = (
            select(t.c.trial_id)
            .where(t.c.study_id == bindparam("study"), t.c.state == TrialState.WAITING)
            .order_by(t.c.number)
            .limit(1)
            .scalar_subquery()
        )
        return (
            update(t)
            .where(t.c.trial_id == oldest, t.c.state == TrialState.WAITING)
            .values(state=TrialState.RUNNING, datetime_start=bindparam("start"))
            .returning(t.c.trial_id)
        )

    statement = _statement(connection, "pop_waiting", build)
    row = connection.execute(statement, {"study": study_id, "start": start}).first()
    return None if row is None else int(row.trial_id)


def beat(connection: Connection, trial_id: int, *, wait_for_disk: bool = True) -> None:
    """Record a heartbeat of the trial now, by the server's clock (as Optuna does).

    Without ``wait_for_disk``, for a beat in a transaction of its own: it commits lazily
    (``_commit_lazily``). A beat lost with the last moments before a server crash only
    makes its trial look a few hundred milliseconds staler.
    """
    name = f"beat_{wait_for_disk}"
    connection.execute(_statement(connection, name, _beat(wait_for_disk)), {"id": trial_id})


def _beat(wait_for_disk: bool) -> Callable[[Any], Any]:
    def build(dialect: Any) -> Any:
        table = tables().heartbeats
        upsert = _upsert(dialect, table, ("trial_id",))
        if wait_for_disk or dialect is not postgresql:
            return upsert.values(trial_id=bindparam("id"), heartbeat=func.now())
        source = select(cast(bindparam("id"), Integer), func.now()).where(_commit_lazily())
        return upsert.from_select(["trial_id", "heartbeat"], source)

    return build


# --- reads ----------------------------------------------------------------------------------


_COUNTED = tuple(TrialState)


@dataclass(frozen=True)
class Census:
    """A study's trials by state, and the oldest heartbeat of a running trial, by the
    server's clock."""

    counts: dict[TrialState, int]
    oldest_beat: datetime.datetime | None
    server_now: datetime.datetime
    unbeaten: int = 0
    oldest_unbeaten_start: datetime.datetime | None = None

    def may_have_stale(self, grace_s: float | None) -> bool:
        """Whether some running trial's heartbeat is older than ``grace_s``."""
        return self._older(self.oldest_beat, grace_s)

    def has_silent_foreign(self, grace_s: float | None) -> bool:
        """Whether a running trial that never beat (a process other than an lrtune worker
        made it) started more than ``grace_s`` ago."""
        return self._older(self.oldest_unbeaten_start, grace_s)

    def _older(self, stamp: datetime.datetime | None, grace_s: float | None) -> bool:
        if grace_s is None or stamp is None:
            return False
        return (self.server_now - stamp).total_seconds() > grace_s


def census(connection: Connection, study_id: int) -> Census | None:
    """Lock the study's row for this transaction (as Optuna does to number a trial) and
    count its trials by state, in one statement; None if there is no such study.

    The counts are read as the statement starts: only a process that does not take lrtune's
    advisory lock (a plain Optuna process) can change them while the row lock is awaited.
    """
    row = connection.execute(
        _statement(connection, "census", _build_census), {"study": study_id}
    ).first()
    if row is None:
        return None
    counts = {state: int(row[i] or 0) for i, state in enumerate(_COUNTED)}
    beat, unbeaten, started, now = row[len(_COUNTED) :]
    return Census(counts, _naive(beat), _naive(now), int(unbeaten or 0), _naive(started))


def _build_census(_: Any) -> Any:
    s, t, h = tables().studies, tables().trials, tables().heartbeats
    columns = [
        func.count().filter(t.c.state == state).label(f"n_{state.name.lower()}")
        for state in _COUNTED
    ]
    running = t.c.state == TrialState.RUNNING
    beats = func.min(h.c.heartbeat).filter(running)
    never_beat = and_(running, h.c.trial_id.is_(None))
    unbeaten = func.count().filter(never_beat)
    unbeaten_start = func.min(t.c.datetime_start).filter(never_beat)
    counts = (
        select(
            *columns,
            beats.label("oldest_beat"),
            unbeaten.label("unbeaten"),
            unbeaten_start.label("oldest_unbeaten_start"),
        )
        .select_from(t.outerjoin(h, h.c.trial_id == t.c.trial_id))
        .where(t.c.study_id == bindparam("study"))
        .subquery()
    )
    return (
        select(*counts.c, func.now().label("server_now"))
        .select_from(s)
        .join(counts, literal(True))
        .where(s.c.study_id == bindparam("study"))
        .with_for_update(of=s)
    )


def silent_foreign(connection: Connection, study_id: int, grace_s: float) -> list[int]:
    """The running trials of the study that never beat and started over ``grace_s`` ago."""

    def build(_: Any) -> Any:
        t, h = tables().trials, tables().heartbeats
        return (
            select(t.c.trial_id, t.c.datetime_start, func.now())
            .select_from(t.outerjoin(h, h.c.trial_id == t.c.trial_id))
            .where(
                t.c.study_id == bindparam("study"),
                t.c.state == TrialState.RUNNING,
                h.c.trial_id.is_(None),
            )
        )

    rows = connection.execute(_statement(connection, "silent_foreign", build), {"study": study_id})
    return [
        trial_id
        for trial_id, start, now in rows
        if start is not None and (_naive(now) - start).total_seconds() > grace_s
    ]


def _naive(stamp: Any) -> Any:
    if isinstance(stamp, str):  # SQLite's CURRENT_TIMESTAMP
        stamp = datetime.datetime.fromisoformat(stamp)
    if isinstance(stamp, datetime.datetime) and stamp.tzinfo is not None:
        stamp = stamp.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return stamp


def completed_at_step(connection: Connection, study_id: int, step: int) -> tuple[int, list[float]]:
    """How many trials of the study are complete, and the values they reported at ``step``
    (what a median or percentile pruner compares with), in one statement."""
    query = _statement(connection, "completed_at_step", lambda _: _completed_query())
    rows = connection.execute(query, {"study": study_id, "step": step}).all()
    return _completed_values(rows)


def _completed_query(*leading: Any) -> Any:
    """Each completed trial of study ``:study`` with what it reported at ``:step`` (value and
    kind; NULL if it reported nothing there), after the columns ``leading``."""
    t, v = tables().trials, tables().intermediate
    reported = and_(v.c.trial_id == t.c.trial_id, v.c.step == bindparam("step"))
    return (
        select(*leading, v.c.intermediate_value, v.c.intermediate_value_type)
        .select_from(t.outerjoin(v, reported))
        .where(t.c.study_id == bindparam("study"), t.c.state == TrialState.COMPLETE)
    )


def _completed_values(rows: Sequence[Any]) -> tuple[int, list[float]]:
    model = tables().models.TrialIntermediateValueModel
    values = [
        model.stored_repr_to_intermediate_value(value, kind)
        for value, kind in rows
        if kind is not None
    ]
    return len(rows), values


@contextmanager
def statement_alone(engine: Engine) -> Iterator[Connection]:
    """A connection of ``engine`` for a call of one statement (a report, a beat, a read),
    committed as it ends. On PostgreSQL the statement runs outside a transaction block,
    as its own transaction: no ``BEGIN`` and ``COMMIT`` or ``ROLLBACK`` round trips (0.15
    against 0.24 ms a call on the development machine, ``benchmarks/storage_calls.py``).
    Under PostgreSQL's ``READ COMMITTED`` each statement sees the data as it starts, in a
    transaction block or not, so a read of several statements sees what it saw in one.
    Elsewhere, one transaction."""
    if engine.dialect.name != "postgresql":
        with engine.begin() as connection:
            yield connection
        return
    with engine.connect() as connection:
        yield connection.execution_options(isolation_level="AUTOCOMMIT")


def trials_of(
    engine: Engine,
    study_id: int,
    states: Container[TrialState] | None,
    included_ids: set[int],
    id_greater_than: int,
    settled: Collection[int] = (),
) -> list[FrozenTrial]:
    """``read_trials`` on a connection of its own (``statement_alone``); ``KeyError`` for
    a missing study, as Optuna's ``RDBStorage`` raises."""
    with statement_alone(engine) as connection:
        trials = read_trials(connection, study_id, states, included_ids, id_greater_than, settled)
        if not trials and not study_exists(connection, study_id):
            raise KeyError(f"No study with study_id {study_id} exists.")
        return trials


def study_exists(connection: Connection, study_id: int) -> bool:
    s = tables().studies
    query = _statement(
        connection,
        "study_exists",
        lambda _: select(s.c.study_id).where(s.c.study_id == bindparam("study")),
    )
    return connection.execute(query, {"study": study_id}).first() is not None


_CHILDREN = ("params", "values", "intermediate", "user_attrs", "system_attrs")


def read_trials(
    connection: Connection,
    study_id: int,
    states: Container[TrialState] | None,
    included_ids: set[int],
    id_greater_than: int,
    settled: Collection[int] = (),
) -> list[FrozenTrial]:
    """What ``RDBStorage``'s ``_get_trials`` reads, in two statements: the trials, then
    every row of theirs in the five child tables at once (Optuna makes one per table).

    Trials in ``settled`` that still run are left out: the caller keeps its own copy of
    those (their rows are read, to know they still run, but neither their child rows nor
    a ``FrozenTrial`` is made of them).
    """
    which, included, long_list = which_trials(included_ids, id_greater_than)
    wanted = None if states is None else [s.name for s in TrialState if s in states]
    by_state = wanted is not None
    name = f"read_trials:{which}:{by_state}"
    trials = _statement(connection, name, lambda dialect: _build_read(which, by_state, dialect))
    params: dict[str, Any] = {"study": study_id, "gt": id_greater_than, "ids": sorted(included)}
    if wanted is not None:
        params["states"] = [TrialState[name] for name in wanted]
    rows = connection.execute(trials, params).all()
    if long_list:
        rows = [r for r in rows if r.trial_id in included or r.trial_id > id_greater_than]
    if not rows:
        return []
    kept = set(settled)
    rows = [r for r in rows if r.trial_id not in kept or r.state != TrialState.RUNNING]
    if which == "all":
        name = f"read_children:{by_state}"
        children = _statement(connection, name, lambda _: _build_all_children(by_state))
        grouped = _grouped(connection.execute(children, params))
    else:
        grouped = _grouped(_children_of(connection, [r.trial_id for r in rows]))
    return [_frozen(row, grouped[row.trial_id]) for row in rows]


def _children_of(connection: Connection, trial_ids: list[int]) -> Iterator[Any]:
    """The child rows of the trials ``trial_ids``, named by id: each table's rows found by
    its index on the trial id. A read of a few trials among thousands (the new and the
    unfinished ones) selected by a subquery instead may have the server scan every child
    row of the study, as PostgreSQL's generic plan does: several milliseconds a read."""
    query = _statement(connection, "children_of", _build_children_of)
    for start in range(0, len(trial_ids), MAX_IDS_IN_LIST):
        yield from connection.execute(query, {"owners": trial_ids[start : start + MAX_IDS_IN_LIST]})


def _build_children_of(dialect: Any) -> Any:
    return _children_where(lambda table: _listed(table.c.trial_id, "owners", dialect))


def _listed(column: Any, name: str, dialect: Any) -> Any:
    """``column`` is in the list of ids bound as ``name``: on PostgreSQL one array, so
    that the statement's text (and the plan the server keeps for it) is the same however
    many ids there are; elsewhere (or with no dialect given) ``IN`` with one parameter
    per id."""
    if dialect is postgresql:
        return column == any_(bindparam(name, type_=postgresql.ARRAY(Integer)))
    return column.in_(bindparam(name, expanding=True))


def which_trials(included_ids: set[int], id_greater_than: int) -> tuple[str, set[int], bool]:
    """How ``_get_trials``'s arguments select trials: "all", "included_or_newer" or "newer"
    (``_build_read``); the ids to list; whether that list is too long for ``IN``, so that
    every trial is read and the caller filters them (as Optuna falls back)."""
    included = {i for i in included_ids if i <= id_greater_than}
    long_list = len(included) > MAX_IDS_IN_LIST
    if id_greater_than < 0 or long_list:
        return "all", included, long_list
    return ("included_or_newer" if included else "newer"), included, long_list


def _build_read(which: str, by_state: bool, dialect: Any = None) -> Any:
    """``read_trials``'s first statement: the trials ``which`` (``which_trials``) selects."""
    t = tables().trials
    query = _of_study(by_state)
    newer = t.c.trial_id > bindparam("gt")
    if which == "newer":
        query = query.where(newer)
    elif which == "included_or_newer":
        if dialect is postgresql:  # see _included_or_newer
            return _included_or_newer(query, newer)
        query = query.where(or_(_listed(t.c.trial_id, "ids", dialect), newer))
    return query.order_by(t.c.trial_id)


def _of_study(by_state: bool) -> Any:
    """The study's trials (in the states bound as ``states``, if ``by_state``)."""
    t = tables().trials
    query = select(t).where(t.c.study_id == bindparam("study"))
    if by_state:
        query = query.where(t.c.state.in_(bindparam("states", expanding=True)))
    return query


def _build_all_children(by_state: bool) -> Any:
    """The child rows of every trial ``_of_study`` selects: a whole study's, read at once
    (a few trials among many are read by id instead, ``_children_of``)."""
    return _children(_of_study(by_state).with_only_columns(tables().trials.c.trial_id))


def _included_or_newer(query: Any, newer: Any) -> Any:
    """The trials listed or newer, as two selects: the newer ones by the primary key, the
    listed ones joined to the list. Under PostgreSQL's generic plan ``listed OR newer``
    scanned the study's every trial, each against every listed id (2 ms at 1,000 trials
    and 200 running, growing with both). Their child rows are read by id (``_children_of``).
    """
    t = tables().trials
    unnest = func.unnest(bindparam("ids", type_=postgresql.ARRAY(Integer)))
    ids = unnest.table_valued("id").render_derived(name="listed")
    listed = query.join(ids, t.c.trial_id == ids.c.id).where(t.c.trial_id <= bindparam("gt"))
    return union_all(query.where(newer), listed).order_by(literal_column("trial_id"))


def _children(trial_ids: Any) -> Any:
    """Every child row of the trials ``trial_ids`` selects, in the five tables at once."""
    ids = trial_ids.subquery()
    return _children_where(lambda table: table.c.trial_id.in_(select(ids.c.trial_id)))


def _children_where(in_ids: Callable[[Table], Any]) -> Any:
    """Every child row, in the five tables at once, of the trials ``in_ids(table)`` holds
    for: (kind, trial id, key, number, value, text) ordered by kind, trial and number."""
    tb = tables()
    text_null: Any = literal_column("NULL")
    parts = [
        select(
            literal(0).label("kind"),
            tb.params.c.trial_id,
            tb.params.c.param_name.label("key"),
            tb.params.c.param_id.label("num"),
            tb.params.c.param_value.label("value"),
            tb.params.c.distribution_json.label("text"),
        ).where(in_ids(tb.params)),
        select(
            literal(1),
            tb.values.c.trial_id,
            text_null,
            tb.values.c.objective,
            tb.values.c.value,
            _enum_text(tb.values.c.value_type),
        ).where(in_ids(tb.values)),
        select(
            literal(2),
            tb.intermediate.c.trial_id,
            text_null,
            tb.intermediate.c.step,
            tb.intermediate.c.intermediate_value,
            _enum_text(tb.intermediate.c.intermediate_value_type),
        ).where(in_ids(tb.intermediate)),
        select(
            literal(3),
            tb.user_attrs.c.trial_id,
            tb.user_attrs.c.key,
            tb.user_attrs.c.trial_user_attribute_id,
            text_null,
            tb.user_attrs.c.value_json,
        ).where(in_ids(tb.user_attrs)),
        select(
            literal(4),
            tb.system_attrs.c.trial_id,
            tb.system_attrs.c.key,
            tb.system_attrs.c.trial_system_attribute_id,
            text_null,
            tb.system_attrs.c.value_json,
        ).where(in_ids(tb.system_attrs)),
    ]
    every = union_all(*parts).subquery()
    return select(every).order_by(every.c.kind, every.c.trial_id, every.c.num)


def _grouped(rows: Iterable[Any]) -> dict[int, SimpleNamespace]:
    """Child rows grouped by trial and table."""
    grouped: dict[int, SimpleNamespace] = defaultdict(
        lambda: SimpleNamespace(**{name: [] for name in _CHILDREN})
    )
    for kind, trial_id, key, num, value, text in rows:
        getattr(grouped[trial_id], _CHILDREN[kind]).append((key, num, value, text))
    return grouped


def _enum_text(column: Any) -> Any:
    return cast(column, String)


def _frozen(row: Any, children: SimpleNamespace) -> FrozenTrial:
    """The ``FrozenTrial`` Optuna's ``RDBStorage`` builds from the same rows (datetimes in
    local time, as it gives them; each distribution parsed once per process)."""
    params = children.params
    kinds = {name: _distribution(text) for name, _, _, text in params}
    return FrozenTrial(
        number=row.number,
        state=row.state,
        value=None,
        values=_values(children.values),
        datetime_start=_local(row.datetime_start),
        datetime_complete=_local(row.datetime_complete),
        params={name: kinds[name].to_external_repr(value) for name, _, value, _ in params},
        distributions=kinds,
        user_attrs={key: json.loads(text) for key, _, _, text in children.user_attrs},
        system_attrs={key: json.loads(text) for key, _, _, text in children.system_attrs},
        intermediate_values={
            step: _INTERMEDIATE_VALUE(value, _IV_TYPE[kind])
            for _, step, value, kind in children.intermediate
        },
        trial_id=row.trial_id,
    )


def _values(rows: list[Any]) -> list[float] | None:
    if not rows:
        return None
    values = [0.0] * (max(objective for _, objective, _, _ in rows) + 1)
    for _, objective, value, kind in rows:
        values[objective] = _VALUE(value, _VALUE_TYPE[kind])
    return values


@lru_cache(maxsize=1024)
def _distribution(text: str) -> distributions.BaseDistribution:
    # Every trial of a study repeats a handful of distributions; parse each once.
    return distributions.json_to_distribution(text)


_MODELS = rdb_models()
_VALUE: Callable[..., float] = _MODELS.TrialValueModel.stored_repr_to_value
_VALUE_TYPE = _MODELS.TrialValueModel.TrialValueType
_INTERMEDIATE_VALUE: Callable[..., float] = (
    _MODELS.TrialIntermediateValueModel.stored_repr_to_intermediate_value
)
_IV_TYPE = _MODELS.TrialIntermediateValueModel.TrialIntermediateValueType
