"""The dashboard's JSON: a page of the trial table holds what ``plain`` makes of each cell
(no NaN or infinity, times as ISO text, NumPy's and pandas' values as JSON's), though
the cells ``plain`` keeps as they are skip it."""

from __future__ import annotations

import json
import math
from datetime import datetime

import numpy as np
import pandas as pd

from lrtune.dashboard._json import plain, table_json
from lrtune.dashboard._table import Table, TableQuery

AWKWARD = [
    0.5,
    math.nan,
    math.inf,
    -math.inf,
    1e-300,
    1,
    None,
    True,
    "é",
    "",
    datetime(2026, 1, 2, 3, 4, 5, 678),
    pd.NA,
    pd.NaT,
    np.int64(3),
    np.bool_(True),
    np.float32(0.25),
    np.float64(math.nan),
    {"x": math.inf},
    [1, math.nan],
]


def test_a_page_s_cells_are_made_plain_as_each_would_be() -> None:
    rows = [[number, "COMPLETE", value] for number, value in enumerate(AWKWARD)]
    table = Table(["number", "state", "value"], rows, "state", ["COMPLETE"])
    made = [row[2] for row in table_json(table.page(TableQuery()))["rows"]]
    cells = [plain(value) for value in AWKWARD]
    assert made == cells and [type(v) for v in made] == [type(v) for v in cells]
    assert json.loads(json.dumps(made, allow_nan=False)) == cells
    assert made[:4] == [0.5, None, None, None] and made[10] == "2026-01-02T03:04:05"
