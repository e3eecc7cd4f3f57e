"""A study's trials read packed: one row per trial, its rows in the five child tables
joined into one JSON text by the database.

``_trial_sql.read_trials`` fetches every child row (about 25 per ten-epoch trial of
lrtune's) and groups them in Python: a quarter of a million rows for 10,000 trials, most
of the time the dashboard takes to read a big study. Here the database writes each
trial's parameters, values, intermediate values and attributes as one text, and Python
decodes the texts of every trial in one ``json.loads``. The ``FrozenTrial`` objects are
those ``read_trials`` builds, to the bit: the database writes each float with enough
digits to read back the same double (SQLite ``%!.20e``, PostgreSQL 12's shortest exact
text), and the attributes' JSON as Optuna stored it.

A trial's text is ``[params, values, steps, user_attrs, system_attrs]``: ``params`` flat
(name, internal value, distribution's JSON as a string, ...), ``values`` and ``steps``
flat (objective or step, value, ...), the attributes as objects.

A page that shows a big study needs less than every trial's rows: ``read_light_trials``
reads ``LightTrial`` objects, without parameters or intermediate values (their count
only) and without the user attributes it is told to leave out: without lrtune's
per-epoch attributes, a quarter to a third of a full read's time (10,000 trials on the
loaded development machine: 0.30 s against 1.38 s on SQLite, 0.43 s against 1.46 s on
PostgreSQL). Its text is ``[values, step_count, user_attrs, system_attrs]``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Container, Sequence
from typing import Any, TypeVar

from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import (
    String,
    Table,
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    not_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection

from lrtune._optuna import trial_id_of
from lrtune.storage._trial_sql import (
    _build_read,
    _distribution,
    _local,
    _statement,
    read_trials,
    tables,
    which_trials,
)

Made = TypeVar("Made")

PACKED_DIALECTS = ("sqlite", "postgresql")
"""Where the database can pack a trial's rows; elsewhere ``read_trials`` reads them."""


class LightTrial(FrozenTrial):
    """A trial read without its parameters and intermediate values (``steps`` counts
    them) and without some of its user attributes (``read_light_trials``)."""

    def __init__(self, steps: int, **trial: Any) -> None:
        super().__init__(**trial)
        self.steps = steps
        """How many intermediate values the trial reported."""

    @classmethod
    def of(cls, trial: FrozenTrial, leave_out: Collection[str]) -> LightTrial:
        """``trial`` made light: what ``read_light_trials`` reads of the same rows."""
        return cls(
            len(trial.intermediate_values),
            number=trial.number,
            state=trial.state,
            value=None,
            values=trial.values,
            datetime_start=trial.datetime_start,
            datetime_complete=trial.datetime_complete,
            params={},
            distributions={},
            user_attrs={k: v for k, v in trial.user_attrs.items() if k not in leave_out},
            system_attrs=trial.system_attrs,
            intermediate_values={},
            trial_id=trial_id_of(trial),
        )


def read_packed_trials(
    connection: Connection,
    study_id: int,
    states: Container[TrialState] | None,
    included_ids: set[int],
    id_greater_than: int,
) -> list[FrozenTrial]:
    """What ``read_trials`` reads (the same arguments, the same trials), in one statement
    of one row per trial."""
    if connection.dialect.name not in PACKED_DIALECTS:
        return read_trials(connection, study_id, states, included_ids, id_greater_than)
    which = _Which(study_id, states, included_ids, id_greater_than)
    return _decoded(_rows(connection, "read_packed_trials", _packed, which), _frozen)


def read_light_trials(
    connection: Connection,
    study_id: int,
    states: Container[TrialState] | None,
    included_ids: set[int],
    id_greater_than: int,
    leave_out: Collection[str],
) -> list[LightTrial]:
    """The trials ``read_packed_trials`` reads, as ``LightTrial`` objects: without their
    parameters, intermediate values and the user attributes named in ``leave_out``,
    which the database neither packs nor Python decodes."""
    if connection.dialect.name not in PACKED_DIALECTS:
        trials = read_trials(connection, study_id, states, included_ids, id_greater_than)
        return [LightTrial.of(trial, leave_out) for trial in trials]
    which = _Which(study_id, states, included_ids, id_greater_than)
    rows = _rows(connection, "read_light_trials", _light_packed, which, sorted(leave_out))
    return _decoded(rows, _light)


class _Which:
    """Which trials ``_get_trials``'s arguments select, as ``_build_read`` takes them."""

    def __init__(
        self,
        study_id: int,
        states: Container[TrialState] | None,
        included_ids: set[int],
        id_greater_than: int,
    ) -> None:
        self.which, self.included, self.long_list = which_trials(included_ids, id_greater_than)
        self.states = None if states is None else [s for s in TrialState if s in states]
        self.id_greater_than = id_greater_than
        self.params: dict[str, Any] = {
            "study": study_id,
            "gt": id_greater_than,
            "ids": sorted(self.included),
        }
        if self.states is not None:
            self.params["states"] = self.states

    def kept(self, rows: Sequence[Any]) -> list[Any]:
        """``rows`` (each a trial's, its id first) of the trials selected: all of them
        unless the list of ids was too long for the statement."""
        if not self.long_list:
            return list(rows)
        return [r for r in rows if r[0] in self.included or r[0] > self.id_greater_than]


Packing = Callable[["_Text", Any], Any]
"""A trial's text, given the dialect's ``_Text`` and its id's column."""


def _rows(
    connection: Connection,
    name: str,
    packing: Packing,
    which: _Which,
    left_out: list[str] | None = None,
) -> list[Any]:
    """The selected trials' rows, each with its text (``packing``), in one statement;
    ``left_out``: the user attributes ``packing`` leaves out."""
    dialect = connection.dialect.name
    by_state = which.states is not None
    key = f"{name}:{which.which}:{by_state}"
    query = _statement(connection, key, lambda _: _build(dialect, which.which, by_state, packing))
    params = which.params if left_out is None else {**which.params, "left_out": left_out}
    return which.kept(connection.execute(query, params).all())


def _decoded(rows: list[Any], make: Callable[[Any, list[Any]], Made]) -> list[Made]:
    """``make(row, its decoded text)`` of each row."""
    if not rows:
        return []
    # One decoder call for every trial: its cost per trial is far below a call's own.
    packed = json.loads("[" + ",".join(row[-1] for row in rows) + "]")
    return [make(row, unpacked) for row, unpacked in zip(rows, packed, strict=True)]


def _build(dialect: str, which: str, by_state: bool, packing: Packing) -> Any:
    trials = _build_read(which, by_state)
    t = tables().trials
    return trials.with_only_columns(
        t.c.trial_id,
        t.c.number,
        t.c.state,
        t.c.datetime_start,
        t.c.datetime_complete,
        packing(_Text(dialect), t.c.trial_id).label("packed"),
    )


class _Text:
    """The SQL of one dialect that writes values as JSON text."""

    def __init__(self, dialect: str) -> None:
        self.postgresql = dialect == "postgresql"

    def number(self, column: Any) -> Any:
        """A float column as text that reads back as the same double."""
        if self.postgresql:  # shortest exact text since PostgreSQL 12; "-0" reads as 0
            shown = cast(column, String)
            return case((shown == "-0", literal("-0.0")), else_=shown)
        return func.printf("%!.20e", column)

    def string(self, column: Any) -> Any:
        """A text column as a JSON string."""
        if self.postgresql:
            return cast(func.to_json(column), String)
        return func.json_quote(column)

    def joined(self, element: Any, order: Any) -> Any:
        """``element`` of each row, in ``order``, joined by commas (an aggregate)."""
        if self.postgresql:
            return func.string_agg(element, aggregate_order_by(literal(","), order))
        return func.group_concat(element, ",")


_FLOAT_TYPES = {
    # Optuna's stored value types: a value the column cannot hold is NULL, and its type says
    # which it was.
    "INF_POS": "Infinity",
    "INF_NEG": "-Infinity",
    "NAN": "NaN",
}


def _float(text: _Text, value: Any, kind: Any) -> Any:
    """A stored value and its type as a JSON number (or ``Infinity``, ``NaN``)."""
    kind = cast(kind, String)
    return case(
        *((kind == name, literal(shown)) for name, shown in _FLOAT_TYPES.items()),
        else_=text.number(value),
    )


def _packed(text: _Text, trial_id: Any) -> Any:
    tb = tables()
    p, i = tb.params, tb.intermediate
    parts = [
        _children(
            text,
            p,
            trial_id,
            p.c.param_id,
            "[",
            "]",
            [
                text.string(p.c.param_name),
                text.number(p.c.param_value),
                text.string(p.c.distribution_json),
            ],
        ),
        _values_text(text, trial_id),
        _children(
            text,
            i,
            trial_id,
            i.c.step,
            "[",
            "]",
            [
                cast(i.c.step, String),
                _float(text, i.c.intermediate_value, i.c.intermediate_value_type),
            ],
        ),
        _attrs(text, tb.user_attrs, trial_id, tb.user_attrs.c.trial_user_attribute_id),
        _attrs(text, tb.system_attrs, trial_id, tb.system_attrs.c.trial_system_attribute_id),
    ]
    return _concat(literal("["), *_commas(parts), literal("]"))


def _light_packed(text: _Text, trial_id: Any) -> Any:
    """``read_light_trials``'s text: ``[values, step_count, user_attrs, system_attrs]``,
    without the user attributes bound as ``left_out``."""
    tb = tables()
    u, i = tb.user_attrs, tb.intermediate
    steps = select(func.count()).where(i.c.trial_id == trial_id).scalar_subquery()
    kept = not_(u.c.key.in_(bindparam("left_out", expanding=True)))
    parts = [
        _values_text(text, trial_id),
        cast(steps, String),
        _attrs(text, u, trial_id, u.c.trial_user_attribute_id, kept),
        _attrs(text, tb.system_attrs, trial_id, tb.system_attrs.c.trial_system_attribute_id),
    ]
    return _concat(literal("["), *_commas(parts), literal("]"))


def _values_text(text: _Text, trial_id: Any) -> Any:
    v = tables().values
    items = [cast(v.c.objective, String), _float(text, v.c.value, v.c.value_type)]
    return _children(text, v, trial_id, v.c.objective, "[", "]", items)


def _attrs(text: _Text, table: Table, trial_id: Any, order: Any, kept: Any = None) -> Any:
    """The trial's attributes in ``table`` (those ``kept``, if given) as a JSON object."""
    items = [text.string(table.c.key), literal(":"), table.c.value_json]
    return _children(text, table, trial_id, order, "{", "}", items, separator=None, kept=kept)


def _children(
    text: _Text,
    table: Table,
    trial_id: Any,
    order: Any,
    opening: str,
    closing: str,
    items: Sequence[Any],
    *,
    separator: str | None = ",",
    kept: Any = None,
) -> Any:
    """The trial's rows of ``table`` in ``order`` (those ``kept``, if given): their
    ``items`` between ``opening`` and ``closing``, joined by commas (``separator``
    between a row's items)."""
    parts = list(items) if separator is None else _commas(items)
    element = _concat(*parts)
    if text.postgresql:
        owned = select(text.joined(element, order)).where(table.c.trial_id == trial_id)
        joined = owned if kept is None else owned.where(kept)
    else:
        # SQLite joins in the order the rows come (no ORDER BY inside group_concat before
        # 3.44): from a subquery in that order, which names the outer trial by its SQL
        # (SQLAlchemy correlates no subquery in a FROM clause).
        outer: Any = literal_column(f"{trial_id.table.name}.{trial_id.name}")
        rows = select(element.label("element"), order.label("position"))
        rows = rows.where(table.c.trial_id == outer)
        ordered = (rows if kept is None else rows.where(kept)).order_by(order).subquery()
        joined = select(text.joined(ordered.c.element, ordered.c.position))
    inner = func.coalesce(joined.scalar_subquery(), literal(""))
    return _concat(literal(opening), inner, literal(closing))


def _commas(parts: Sequence[Any]) -> list[Any]:
    joined: list[Any] = []
    for index, part in enumerate(parts):
        joined += [literal(","), part] if index else [part]
    return joined


def _concat(*parts: Any) -> Any:
    joined = parts[0]
    for part in parts[1:]:
        joined = joined.concat(part)
    return joined


def _frozen(row: Sequence[Any], unpacked: list[Any]) -> FrozenTrial:
    """The ``FrozenTrial`` ``read_trials`` builds from the same rows."""
    params, values, steps, user_attrs, system_attrs = unpacked
    names, stored, texts = params[0::3], params[1::3], params[2::3]
    kinds = {name: _distribution(text) for name, text in zip(names, texts, strict=True)}
    return FrozenTrial(
        **_fields(row, values, user_attrs, system_attrs),
        params={
            name: kinds[name].to_external_repr(float(value))
            for name, value in zip(names, stored, strict=True)
        },
        distributions=kinds,
        intermediate_values=dict(zip(steps[0::2], map(float, steps[1::2]), strict=True)),
    )


def _light(row: Sequence[Any], unpacked: list[Any]) -> LightTrial:
    """The ``LightTrial`` of ``read_light_trials``'s row."""
    values, steps, user_attrs, system_attrs = unpacked
    return LightTrial(
        steps,
        **_fields(row, values, user_attrs, system_attrs),
        params={},
        distributions={},
        intermediate_values={},
    )


def _fields(
    row: Sequence[Any], values: list[Any], user_attrs: Any, system_attrs: Any
) -> dict[str, Any]:
    """What a full and a light trial of a packed row share: its own columns, values and
    attributes."""
    trial_id, number, state, start, complete, _ = row
    return {
        "number": number,
        "state": state,
        "value": None,
        "values": _values(values),
        "datetime_start": _local(start),
        "datetime_complete": _local(complete),
        "user_attrs": user_attrs,
        "system_attrs": system_attrs,
        "trial_id": trial_id,
    }


def _values(flat: list[Any]) -> list[float] | None:
    if not flat:
        return None
    objectives = flat[0::2]
    values = [0.0] * (max(objectives) + 1)
    for objective, value in zip(objectives, flat[1::2], strict=True):
        values[objective] = float(value)
    return values
