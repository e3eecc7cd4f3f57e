"""Pages of a trial table, filtered, sorted and sliced on the server.

A big study's page asks for one page of its trial table (``limit`` rows from ``offset``),
so that it is sent and drawn a page at a time, not 10,000 rows at once. The filter and
the order apply to every trial, not to the page:

- ``state``: only the trials in that state;
- ``q``: only the trials whose cells hold every word of it (case ignored; a number as
  written with three significant digits, ``0.001`` for ``0.001``, ``1.23e+03`` for
  ``1234.5``; a time as ISO text);
- ``sort`` (a column) and ``order`` (``asc`` or ``desc``): missing values last either
  way, numbers by value, text in natural order (``node2`` before ``node10``); rows that
  tie keep their trials' order. Without ``sort`` the rows come in trial-number order.

Without ``limit``, every matching row. Nothing here is JSON yet: a page's values are as
the trials hold them.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from operator import itemgetter
from typing import Any

QUERY_PARAMS = ("offset", "limit", "sort", "order", "state", "q")
"""What a trial table's URL may ask (``/api/studies/{id}/trials?limit=50``)."""

ORDERS = ("asc", "desc")


class QueryError(ValueError):
    """A table query the table cannot answer: its message is one line for the reader."""


@dataclass(frozen=True)
class TableQuery:
    """Which rows of a table to send: see the module's docstring."""

    offset: int = 0
    limit: int | None = None
    sort: str | None = None
    descending: bool = False
    state: str | None = None
    words: tuple[str, ...] = ()

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> TableQuery:
        """The query of a URL's parameters; ``QueryError`` for a parameter it does not
        take or a value it cannot read."""
        unknown = sorted(set(params) - set(QUERY_PARAMS))
        if unknown:
            raise QueryError(
                f"Unknown parameter {unknown[0]!r}: a trial table takes {', '.join(QUERY_PARAMS)}"
            )
        order = params.get("order", "asc")
        if order not in ORDERS:
            raise QueryError(f"order must be {' or '.join(map(repr, ORDERS))}, not {order!r}")
        limit = params.get("limit")
        return cls(
            offset=_whole(params.get("offset", "0"), "offset", 0),
            limit=None if limit is None else _whole(limit, "limit", 1),
            sort=params.get("sort") or None,
            descending=order == "desc",
            state=params.get("state") or None,
            words=tuple(params.get("q", "").lower().split()),
        )


def _whole(text: str, name: str, least: int) -> int:
    if not re.fullmatch(r"[0-9]{1,9}", text) or int(text) < least:
        raise QueryError(f"{name} must be a whole number of at least {least}, not {text!r}")
    return int(text)


@dataclass(frozen=True)
class TablePage:
    """Rows of a table as a query asked for them."""

    columns: list[str]
    rows: list[list[Any]]
    total: int
    """Rows in the table."""
    matched: int
    """Rows that pass the query's filter: the ones paged through."""
    query: TableQuery
    states: list[str]
    """The states the table's trials are in, sorted: what ``state`` may usefully ask."""


class Table:
    """A trial table: ``rows`` holds one list of values per trial, in trial-number order,
    one per column; ``state_column`` names the trial's state, one of ``states``.

    What a query needs of every row (each column's order, each row's text) is computed
    on first use and kept: the table of a study's state serves every page of it.
    """

    def __init__(
        self,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        state_column: str,
        states: Sequence[str],
    ) -> None:
        self.columns = list(columns)
        self.rows = rows
        self._state = self.columns.index(state_column)
        self._known_states = list(states)
        self._orders: dict[tuple[str, bool], list[int]] = {}
        self._texts: list[str] | None = None

    def page(self, query: TableQuery) -> TablePage:
        """The rows ``query`` asks for; ``QueryError`` for a column or state the table
        has not."""
        self._check(query)
        shown = self._order(query.sort, query.descending)
        keep = self._filter(query)
        if keep is not None:
            shown = [i for i in shown if keep(i)]
        end = len(shown) if query.limit is None else query.offset + query.limit
        return TablePage(
            self.columns,
            [list(self.rows[i]) for i in shown[query.offset : end]],
            len(self.rows),
            len(shown),
            query,
            self.states,
        )

    @cached_property
    def states(self) -> list[str]:
        """The states the table's trials are in, sorted."""
        return sorted({str(row[self._state]) for row in self.rows})

    def _check(self, query: TableQuery) -> None:
        if query.sort is not None and query.sort not in self.columns:
            raise QueryError(
                f"No column {query.sort!r} to sort by: the columns are {', '.join(self.columns)}"
            )
        if query.state is not None and query.state not in self._known_states:
            raise QueryError(
                f"No state {query.state!r}: the states are {', '.join(self._known_states)}"
            )

    def _filter(self, query: TableQuery) -> Callable[[int], bool] | None:
        """Whether row ``i`` passes ``query``'s filter; ``None`` when every row does."""
        if query.state is None and not query.words:
            return None
        texts = self._row_texts() if query.words else []
        state, words, column = query.state, query.words, self._state
        return lambda i: (
            (state is None or self.rows[i][column] == state)
            and all(word in texts[i] for word in words)
        )

    def _order(self, sort: str | None, descending: bool) -> list[int]:
        """The rows' indices sorted by column ``sort`` (trial-number order if ``None``)."""
        if sort is None:
            return list(range(len(self.rows)))[:: -1 if descending else 1]
        found = self._orders.get((sort, descending))
        if found is None:
            found = self._orders[(sort, descending)] = _sorted(
                [row[self.columns.index(sort)] for row in self.rows], descending
            )
        return found

    def _row_texts(self) -> list[str]:
        if self._texts is None:
            self._texts = [" ".join(map(cell_text, row)).lower() for row in self.rows]
        return self._texts


def _sorted(values: Sequence[Any], descending: bool) -> list[int]:
    """Indices of ``values`` in order, missing values last either way, ties in place."""
    keys = [(sort_key(value), i) for i, value in enumerate(values)]
    present = [(key, i) for key, i in keys if key is not None]
    present.sort(key=itemgetter(0), reverse=descending)  # stable, reversed or not
    return [i for _, i in present] + [i for key, i in keys if key is None]


def sort_key(value: Any) -> tuple[Any, ...] | None:
    """What a cell sorts by: numbers (flags and times too) before text; ``None`` for a
    missing value (``None``, and NaN and infinities, which the page shows as missing)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return (0, value.timestamp())
    if isinstance(value, numbers.Real):
        number = float(value)
        return (0, number) if math.isfinite(number) else None
    parts = re.split(r"(\d+)", str(value))
    return (1, tuple((0, int(p), "") if p.isdigit() else (1, 0, p.lower()) for p in parts))


def cell_text(value: Any) -> str:
    """A cell as ``q`` matches it: see the module's docstring."""
    if value is None:
        return ""
    if isinstance(value, numbers.Integral):  # flags too
        return str(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return format(number, ".3g") if math.isfinite(number) else ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return str(value)
