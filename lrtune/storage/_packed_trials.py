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
"""

from __future__ import annotations

import json
from collections.abc import Container, Sequence
from typing import Any

from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import String, Table, case, cast, func, literal, literal_column, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Connection

from lrtune.storage._trial_sql import (
    _build_read,
    _distribution,
    _local,
    _statement,
    read_trials,
    tables,
    which_trials,
)

PACKED_DIALECTS = ("sqlite", "postgresql")
"""Where the database can pack a trial's rows; elsewhere ``read_trials`` reads them."""


def read_packed_trials(
    connection: Connection,
    study_id: int,
    states: Container[TrialState] | None,
    included_ids: set[int],
    id_greater_than: int,
) -> list[FrozenTrial]:
    """What ``read_trials`` reads (the same arguments, the same trials), in one statement
    of one row per trial."""
    dialect = connection.dialect.name
    if dialect not in PACKED_DIALECTS:
        return read_trials(connection, study_id, states, included_ids, id_greater_than)
    which, included, long_list = which_trials(included_ids, id_greater_than)
    wanted = None if states is None else [s for s in TrialState if s in states]
    name = f"read_packed_trials:{which}:{wanted is not None}"
    query = _statement(connection, name, lambda _: _build(dialect, which, wanted is not None))
    params: dict[str, Any] = {"study": study_id, "gt": id_greater_than, "ids": sorted(included)}
    if wanted is not None:
        params["states"] = wanted
    rows = connection.execute(query, params).all()
    if long_list:
        rows = [r for r in rows if r[0] in included or r[0] > id_greater_than]
    if not rows:
        return []
    # One decoder call for every trial: its cost per trial is far below a call's own.
    packed = json.loads("[" + ",".join(row[-1] for row in rows) + "]")
    return [_frozen(row, unpacked) for row, unpacked in zip(rows, packed, strict=True)]


def _build(dialect: str, which: str, by_state: bool) -> Any:
    trials, _ = _build_read(which, by_state)
    t = tables().trials
    return trials.with_only_columns(
        t.c.trial_id,
        t.c.number,
        t.c.state,
        t.c.datetime_start,
        t.c.datetime_complete,
        _packed(_Text(dialect), t.c.trial_id).label("packed"),
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
    p, v, i = tb.params, tb.values, tb.intermediate
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
        _children(
            text,
            v,
            trial_id,
            v.c.objective,
            "[",
            "]",
            [
                cast(v.c.objective, String),
                _float(text, v.c.value, v.c.value_type),
            ],
        ),
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


def _attrs(text: _Text, table: Table, trial_id: Any, order: Any) -> Any:
    items = [text.string(table.c.key), literal(":"), table.c.value_json]
    return _children(text, table, trial_id, order, "{", "}", items, separator=None)


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
) -> Any:
    """The trial's rows of ``table`` in ``order``: their ``items`` between ``opening``
    and ``closing``, joined by commas (``separator`` between a row's items)."""
    parts = list(items) if separator is None else _commas(items)
    element = _concat(*parts)
    if text.postgresql:
        joined = select(text.joined(element, order)).where(table.c.trial_id == trial_id)
    else:
        # SQLite joins in the order the rows come (no ORDER BY inside group_concat before
        # 3.44): from a subquery in that order, which names the outer trial by its SQL
        # (SQLAlchemy correlates no subquery in a FROM clause).
        outer: Any = literal_column(f"{trial_id.table.name}.{trial_id.name}")
        rows = select(element.label("element"), order.label("position"))
        ordered = rows.where(table.c.trial_id == outer).order_by(order).subquery()
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
    trial_id, number, state, start, complete, _ = row
    params, values, steps, user_attrs, system_attrs = unpacked
    names, stored, texts = params[0::3], params[1::3], params[2::3]
    kinds = {name: _distribution(text) for name, text in zip(names, texts, strict=True)}
    return FrozenTrial(
        number=number,
        state=state,
        value=None,
        values=_values(values),
        datetime_start=_local(start),
        datetime_complete=_local(complete),
        params={
            name: kinds[name].to_external_repr(float(value))
            for name, value in zip(names, stored, strict=True)
        },
        distributions=kinds,
        user_attrs=user_attrs,
        system_attrs=system_attrs,
        intermediate_values=dict(zip(steps[0::2], map(float, steps[1::2]), strict=True)),
        trial_id=trial_id,
    )


def _values(flat: list[Any]) -> list[float] | None:
    if not flat:
        return None
    objectives = flat[0::2]
    values = [0.0] * (max(objectives) + 1)
    for objective, value in zip(objectives, flat[1::2], strict=True):
        values[objective] = float(value)
    return values
