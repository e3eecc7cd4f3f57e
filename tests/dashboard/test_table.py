"""Pages of a trial table: filtered, sorted and sliced on the server (``_table``), and the
trial API's answers through the app."""

from __future__ import annotations

import math
import re
from datetime import datetime

import pytest
from starlette.testclient import TestClient

from lrtune.dashboard._table import QueryError, Table, TableQuery

COLUMNS = ["number", "state", "value", "host", "start"]
STATES = ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"]


def table() -> Table:
    rows = [
        [0, "COMPLETE", 0.5, "node10", datetime(2026, 1, 1, 12, 0, 3)],
        [1, "PRUNED", None, "node2", datetime(2026, 1, 1, 12, 0, 1)],
        [2, "COMPLETE", 0.25, "Node1", None],
        [3, "FAIL", math.nan, None, datetime(2026, 1, 1, 12, 0, 2)],
        [4, "COMPLETE", 0.5, "node2", datetime(2026, 1, 1, 12, 0, 4)],
        [5, "COMPLETE", math.inf, "node2 gpu", datetime(2026, 1, 1, 12, 0, 5)],
        [6, "PRUNED", 1234.5, "node10", datetime(2026, 1, 1, 12, 0, 6)],
    ]
    return Table(COLUMNS, rows, "state", STATES)


def numbers(query: TableQuery) -> list[int]:
    return [row[0] for row in table().page(query).rows]


def test_without_a_query_every_row_comes_in_trial_order() -> None:
    page = table().page(TableQuery())
    assert [row[0] for row in page.rows] == list(range(7))
    assert (page.total, page.matched, page.states) == (7, 7, ["COMPLETE", "FAIL", "PRUNED"])


def test_pages_cover_every_row_once_and_the_last_may_be_short() -> None:
    pages = [numbers(TableQuery(offset=offset, limit=3)) for offset in (0, 3, 6, 9)]
    assert pages == [[0, 1, 2], [3, 4, 5], [6], []]
    assert numbers(TableQuery(offset=2, limit=2, descending=True)) == [4, 3]


def test_numbers_sort_by_value_missing_last_either_way_ties_in_trial_order() -> None:
    # None, NaN and inf are missing (the page shows inf as missing too).
    assert numbers(TableQuery(sort="value")) == [2, 0, 4, 6, 1, 3, 5]
    assert numbers(TableQuery(sort="value", descending=True)) == [6, 0, 4, 2, 1, 3, 5]


def test_text_sorts_in_natural_order_ignoring_case() -> None:
    assert numbers(TableQuery(sort="host")) == [2, 1, 4, 5, 0, 6, 3]
    assert numbers(TableQuery(sort="host", descending=True)) == [0, 6, 5, 1, 4, 2, 3]


def test_times_sort_as_times() -> None:
    assert numbers(TableQuery(sort="start")) == [1, 3, 0, 4, 5, 6, 2]


def test_the_filter_applies_before_the_page_and_counts_what_matched() -> None:
    page = table().page(TableQuery(state="COMPLETE", limit=2, offset=1, sort="value"))
    assert [row[0] for row in page.rows] == [0, 4]
    assert (page.total, page.matched) == (7, 4)
    # Every word, in any cell, case ignored; numbers to three significant digits.
    assert numbers(TableQuery(words=("node2",))) == [1, 4, 5]
    assert numbers(TableQuery(words=("node2", "gpu"))) == [5]
    assert numbers(TableQuery(words=("1.23e+03",))) == [6]
    assert numbers(TableQuery(words=("12:00:02",))) == [3]
    assert numbers(TableQuery(words=("pruned", "node10"))) == [6]
    assert numbers(TableQuery(state="WAITING")) == []


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "0"}, "limit must be a whole number of at least 1, not '0'"),
        ({"limit": "ten"}, "limit must be a whole number of at least 1, not 'ten'"),
        ({"offset": "-5"}, "offset must be a whole number of at least 0, not '-5'"),
        ({"order": "up"}, "order must be 'asc' or 'desc', not 'up'"),
        ({"limt": "5"}, "Unknown parameter 'limt': a trial table takes offset, limit, sort"),
    ],
)
def test_a_query_it_cannot_read_is_refused_in_one_line(
    params: dict[str, str], message: str
) -> None:
    with pytest.raises(QueryError, match="^" + re.escape(message)) as refused:
        TableQuery.parse(params)
    assert "\n" not in str(refused.value)


def test_a_column_or_state_the_table_has_not_is_refused() -> None:
    with pytest.raises(QueryError, match=r"^No column 'loss' to sort by: the columns are number"):
        table().page(TableQuery(sort="loss"))
    with pytest.raises(QueryError, match=r"^No state 'DONE': the states are COMPLETE, PRUNED"):
        table().page(TableQuery(state="DONE"))


# --- through the app ---------------------------------------------------------------------


def mlp_trials(client: TestClient, query: str = "") -> dict:
    studies = {s["name"]: s["id"] for s in client.get("/api/studies").json()}
    response = client.get(f"/api/studies/{studies['mlp']}/trials{query}")
    assert response.status_code == 200, response.text
    return response.json()


def test_the_api_pages_sorts_and_filters_a_study_s_trials(client: TestClient) -> None:
    every = mlp_trials(client)
    assert (every["total"], every["matched"], every["limit"]) == (6, 6, None)
    value = every["columns"].index("value")
    missing = [row for row in every["rows"] if row[value] is None]
    by_value = sorted((r for r in every["rows"] if r[value] is not None), key=lambda r: -r[value])
    by_value += missing
    pages = [mlp_trials(client, f"?sort=value&order=desc&limit=4&offset={o}") for o in (0, 4)]
    assert [page["rows"] for page in pages] == [by_value[:4], by_value[4:]]
    assert pages[1] | {"rows": None} == {
        **every,
        "rows": None,
        "offset": 4,
        "limit": 4,
        "sort": "value",
        "order": "desc",
    }

    optimizer = every["columns"].index("optimizer")
    sgd = [row for row in every["rows"] if row[optimizer] == "sgd"]
    found = mlp_trials(client, "?q=SGD&state=COMPLETE")
    assert found["rows"] == [row for row in sgd if row[1] == "COMPLETE"]
    assert (found["matched"], found["total"], found["q"]) == (len(found["rows"]), 6, "sgd")
    assert found["states"] == every["states"] == sorted({row[1] for row in every["rows"]})


@pytest.mark.parametrize(
    ("query", "error"),
    [
        ("?limit=-1", "limit must be a whole number of at least 1, not '-1'"),
        ("?sort=nope", "No column 'nope' to sort by: the columns are number, state, value"),
        ("?state=done", "No state 'done': the states are RUNNING, COMPLETE, PRUNED"),
        ("?page=2", "Unknown parameter 'page': a trial table takes offset, limit, sort"),
    ],
)
def test_the_api_refuses_a_bad_query_with_a_one_line_400(
    client: TestClient, query: str, error: str
) -> None:
    studies = {s["name"]: s["id"] for s in client.get("/api/studies").json()}
    response = client.get(f"/api/studies/{studies['mlp']}/trials{query}")
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert "\n" not in response.json()["error"]
