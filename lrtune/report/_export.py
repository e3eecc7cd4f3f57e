"""``export_trials``: a study's ``trials_frame`` written to CSV or Parquet."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from lrtune.report._study_data import trials_frame

if TYPE_CHECKING:
    import optuna

ExportFormat = Literal["csv", "parquet"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = ("csv", "parquet")


def export_trials(study: optuna.Study, path: str | Path, fmt: ExportFormat) -> int:
    """Write one row per trial of ``study`` to ``path``; returns the number of rows.

    The columns are those of ``trials_frame``. Parquet (through pyarrow) keeps the types;
    CSV writes ``datetime_start`` as ISO text and leaves missing values empty.
    """
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"fmt must be one of {EXPORT_FORMATS}, but got {fmt=}.")
    frame = trials_frame(study)
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, engine="pyarrow", index=False)
    return len(frame)
