"""Range tests between ``FinderResult`` and table rows, and their listing summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from lrtune.finder import HISTORY_COLUMNS, FinderResult, StopReason
from lrtune.storage._models import RangeTestRow

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class RangeTestSummary:
    """One stored range test as ``Storage.list_range_tests`` shows it, without its curve."""

    id: int
    group: str | None
    task: str | None
    optimizer: str
    suggested_lr: float | None
    min_lr: float | None
    max_lr: float | None
    stop_reason: StopReason
    n_points: int
    created_at: datetime


def naive_utc(moment: datetime | None) -> datetime | None:
    """``moment`` as naive UTC; a naive ``moment`` is taken to be UTC already."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(timezone.utc).replace(tzinfo=None)


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def point_rows(history: pd.DataFrame) -> list[dict[str, Any]]:
    """``history`` as one dict per step, checked to hold the columns a curve needs."""
    missing = [column for column in HISTORY_COLUMNS if column not in history.columns]
    if missing:
        raise ValueError(f"result.history lacks the columns {missing}; it has {list(history)}.")
    values = history[list(HISTORY_COLUMNS)].to_numpy(dtype="float64").tolist()
    return [
        {"step": step, "lr": lr, "loss": loss, "smoothed_loss": smoothed}
        for step, (lr, loss, smoothed) in enumerate(values)
    ]


def to_row(result: FinderResult, n_points: int) -> RangeTestRow:
    """The row for ``result``, stamped as created now."""
    return RangeTestRow(
        group=result.group,
        task=result.task,
        optimizer=result.optimizer,
        optimizer_options=_json_field(result, "optimizer_options"),
        options=_json_field(result, "options"),
        model_summary=_json_field(result, "model_summary"),
        suggested_lr=_float_or_none(result.suggested_lr),
        min_lr=_float_or_none(result.min_lr),
        max_lr=_float_or_none(result.max_lr),
        lr_low=_float_or_none(result.lr_interval[0] if result.lr_interval else None),
        lr_high=_float_or_none(result.lr_interval[1] if result.lr_interval else None),
        rule=result.rule,
        stop_reason=StopReason(result.stop_reason).value,
        stop_detail=result.stop_detail,
        started_at=naive_utc(result.started_at),
        finished_at=naive_utc(result.finished_at),
        created_at=utc_now(),
        n_points=n_points,
    )


def to_result(row: RangeTestRow, points: Sequence[Sequence[float | None]]) -> FinderResult:
    """The ``FinderResult`` for ``row``; ``points`` are its (lr, loss, smoothed_loss) by step."""
    return FinderResult(
        history=history_frame(points),
        suggested_lr=row.suggested_lr,
        min_lr=row.min_lr,
        max_lr=row.max_lr,
        stop_reason=StopReason(row.stop_reason),
        stop_detail=row.stop_detail,
        rule=row.rule,
        optimizer=row.optimizer,
        optimizer_options=row.optimizer_options,
        options=row.options,
        model_summary=row.model_summary,
        task=row.task,
        started_at=row.started_at,
        finished_at=row.finished_at,
        id=row.id,
        group=row.group,
        lr_interval=_interval(row),
    )


def _interval(row: RangeTestRow) -> tuple[float, float] | None:
    if row.lr_low is None or row.lr_high is None:
        return None
    return row.lr_low, row.lr_high


def history_frame(points: Sequence[Sequence[float | None]]) -> pd.DataFrame:
    """The history DataFrame; the NULLs SQLite made of NaN losses become NaN again."""
    import pandas as pd  # here, not above: listing range tests reads no curve

    rows = [tuple(point) for point in points]
    return pd.DataFrame(rows, columns=list(HISTORY_COLUMNS), dtype="float64")


def to_summary(row: RangeTestRow) -> RangeTestSummary:
    return RangeTestSummary(
        id=row.id,
        group=row.group,
        task=row.task,
        optimizer=row.optimizer,
        suggested_lr=row.suggested_lr,
        min_lr=row.min_lr,
        max_lr=row.max_lr,
        stop_reason=StopReason(row.stop_reason),
        n_points=row.n_points,
        created_at=row.created_at,
    )


def _float_or_none(value: float | None) -> float | None:
    # numpy scalars other than float64 are not floats, and the drivers refuse them.
    return None if value is None else float(value)


def _json_field(result: FinderResult, name: str) -> dict[str, Any]:
    """``result.<name>``, checked to be strict JSON, which PostgreSQL's json type requires."""
    value: dict[str, Any] = getattr(result, name)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"result.{name} cannot be stored as JSON ({error}): {value!r}") from None
    return value
