"""``FinderResult``: what a range test returns and what the storage keeps."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from lrtune.finder._suggest import Suggestion

HISTORY_COLUMNS = ("lr", "loss", "smoothed_loss")


class StopReason(str, enum.Enum):
    """Why a sweep ended."""

    COMPLETED = "completed"
    """All ``num_iter`` steps ran."""
    DIVERGED = "diverged"
    """The smoothed loss rose past ``diverge_threshold`` times its best."""
    NON_FINITE = "non_finite"
    """A loss was NaN or infinite."""

    def __str__(self) -> str:
        return self.value


@dataclass
class FinderResult:
    """The outcome of a learning-rate range test.

    Attributes:
        history: One row per step: ``lr``, ``loss`` (raw) and ``smoothed_loss`` (EMA).
        suggested_lr: The LR to train with at a constant rate (``None`` if the curve never
            fell, so no rule could pick one).
        min_lr: Low bound for cyclical and 1cycle schedules.
        max_lr: High bound for cyclical and 1cycle schedules.
        lr_interval: ``(low, high)``: where the best constant LR for the planned training
            likely lies (``options["planned_steps"]``; see benchmarks/README.md for how
            often it does); ``None`` if the curve never fell.
        stop_reason: Why the sweep ended.
        stop_detail: One human sentence saying where it stopped.
        rule: The suggestion rule that produced ``suggested_lr``.
        optimizer: The optimizer's class name (``"AdamW"``).
        optimizer_options: The optimizer's hyperparameters other than ``lr``.
        options: The sweep's options (``start_lr``, ``end_lr``, ``num_iter``, ...).
        model_summary: Class name and parameter counts of the model.
        task: The task's name, when the test ran on a ``Task``.
        started_at, finished_at: Naive UTC timestamps.
        id: The stored id, once saved.
        group: Range tests run together (one per optimizer) share a group.
    """

    history: pd.DataFrame
    suggested_lr: float | None
    min_lr: float | None
    max_lr: float | None
    stop_reason: StopReason
    stop_detail: str
    rule: str
    optimizer: str
    optimizer_options: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    model_summary: dict[str, Any] = field(default_factory=dict)
    task: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    id: int | None = None
    group: str | None = None
    lr_interval: tuple[float, float] | None = None

    @property
    def label(self) -> str:
        """A short name for legends and tables: ``"AdamW"`` or ``"digits-mlp/AdamW"``."""
        return self.optimizer if self.task is None else f"{self.task}/{self.optimizer}"

    def suggest(self, rule: str | None = None) -> Suggestion:
        """Recompute the suggestion and bounds from the stored curve with ``rule``."""
        from lrtune.finder._horizon import kind_of_class_name
        from lrtune.finder._suggest import suggest

        kind = self.options.get("optimizer_kind", kind_of_class_name(self.optimizer))
        planned = self.options.get("planned_steps")
        return suggest(self.history, rule or self.rule, planned_steps=planned, optimizer_kind=kind)

    def plot(self, ax: Axes | None = None) -> Figure:
        """Draw the curve with the suggestion and bounds marked; return the figure."""
        from lrtune.report import plot_range_tests

        return plot_range_tests([self], ax=ax)
