"""The dashboard's JSON: the trial table, made a column at a time, holds what ``plain``
makes of each cell: no NaN or infinity, times as ISO text, NumPy's and pandas' missing
values and scalars as JSON's."""

from __future__ import annotations

import math
from datetime import datetime

import numpy as np
import pandas as pd

from lrtune.dashboard._json import _plain_column, plain

AWKWARD = {
    "float": pd.Series([0.5, math.nan, math.inf, -math.inf, 1e-300], dtype="float64"),
    "int": pd.Series([1, None, 3, None, 5], dtype="Int64"),
    "flag": pd.Series([True, None, False, True, None], dtype="boolean"),
    "text": pd.Series(["a", None, "é", "", "b"], dtype="string"),
    "time": pd.Series(
        [datetime(2026, 1, 2, 3, 4, 5, 678), None, datetime(2026, 7, 1), None, None],
        dtype="datetime64[ns]",
    ),
    "mixed": pd.Series([1, "a", None, np.float64(math.nan), {"x": math.inf}], dtype=object),
    "numpy": pd.Series([np.int64(3), np.bool_(True), None, np.float32(0.25), 2], dtype=object),
}


def test_a_column_is_made_plain_as_each_of_its_cells_would_be() -> None:
    for name, column in AWKWARD.items():
        cells = [plain(None if pd.isna(v) else v) for v in column.astype(object)]
        made = _plain_column(column)
        assert made == cells and [type(v) for v in made] == [type(v) for v in cells], name
