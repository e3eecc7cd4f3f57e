"""Plain-text tables and JSON-ready dicts for range tests (no printing here)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lrtune.finder import FinderResult


def fmt(value: float | None) -> str:
    """A number in three significant digits, or '-' when there is none."""
    return "-" if value is None else f"{value:.3g}"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A left-aligned plain-text table."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = [headers, ["-" * width for width in widths], *rows]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def suggestion_table(results: Sequence[FinderResult]) -> str:
    """One row per optimizer: suggestion, bounds and why the sweep stopped."""
    headers = ["id", "optimizer", "suggested_lr", "likely best in", "min_lr", "max_lr"]
    headers += ["points", "stopped"]
    rows = [
        [
            "-" if r.id is None else str(r.id),
            r.optimizer,
            fmt(r.suggested_lr),
            interval_text(r.lr_interval),
            fmt(r.min_lr),
            fmt(r.max_lr),
            str(len(r.history)),
            stop_label(r.stop_reason),
        ]
        for r in results
    ]
    return table(headers, rows)


def result_dict(result: FinderResult, *, history: bool = False) -> dict[str, Any]:
    """A JSON-ready view of ``result`` (the curve only if ``history``)."""
    data: dict[str, Any] = {
        "id": result.id,
        "group": result.group,
        "task": result.task,
        "optimizer": result.optimizer,
        "suggested_lr": result.suggested_lr,
        "lr_interval": None if result.lr_interval is None else list(result.lr_interval),
        "min_lr": result.min_lr,
        "max_lr": result.max_lr,
        "rule": result.rule,
        "stop_reason": result.stop_reason.value,
        "stop_detail": result.stop_detail,
        "points": len(result.history),
        "optimizer_options": result.optimizer_options,
        "options": result.options,
        "model": result.model_summary,
        "started_at": _iso(result.started_at),
        "finished_at": _iso(result.finished_at),
    }
    if history:
        data["history"] = result.history.to_dict(orient="list")
    return data


IMPLEMENTATION_FLAGS = frozenset({"foreach", "fused", "capturable", "differentiable"})
"""Optimizer options that choose a kernel, not the maths; stored, but not shown."""


def hyperparameters(options: dict[str, Any]) -> str:
    """The optimizer options that change the maths, as ``name=value`` pairs."""
    shown = {
        k: v
        for k, v in options.items()
        if k not in IMPLEMENTATION_FLAGS and not (k == "maximize" and v is False)
    }
    return ", ".join(f"{k}={v}" for k, v in shown.items())


_STOP_LABELS = {"completed": "all steps", "diverged": "loss rose", "non_finite": "loss not finite"}
"""How the suggestion table names each way a sweep ends."""


def stop_label(reason: str) -> str:
    """A sweep's end in two words, for tables: ``"loss rose"`` is how most sweeps end."""
    value = str(getattr(reason, "value", reason))
    return _STOP_LABELS.get(value, value)


def stop_text(result: FinderResult) -> str:
    """How the sweep ended, in words, with the numbers of the plotted (smoothed) curve.

    A sweep that stops because the loss rose has reached the learning rates too high to
    train at: the normal end of a range test, not a failure.
    """
    from lrtune.finder import smoothed_curve

    reason = result.stop_reason.value
    lrs = result.history["lr"].to_numpy(dtype=float)
    if reason == "completed":
        return f"ran all {len(lrs)} steps"
    if reason != "diverged" or len(lrs) == 0:
        return f"the loss was not finite: {result.stop_detail}"
    curve = smoothed_curve(lrs, result.history["loss"].to_numpy(dtype=float))
    low = int(curve.argmin())
    threshold = result.options.get("diverge_threshold", 4.0)
    return (
        f"the loss rose past {threshold:g}x its lowest, as expected at high learning rates "
        f"(plotted curve: lowest {fmt(curve[low])} at lr {fmt(lrs[low])}, "
        f"{fmt(curve[-1])} at lr {fmt(lrs[-1])})"
    )


def result_details(result: FinderResult) -> str:
    """A readable multi-line description of one stored range test."""
    options = ", ".join(f"{k}={v}" for k, v in result.options.items())
    optimizer_options = hyperparameters(result.optimizer_options)
    lines = [
        f"Range test {result.id}" + (f" (group {result.group})" if result.group else ""),
        f"  task:          {result.task or '-'}",
        f"  model:         {_model_line(result.model_summary)}",
        f"  optimizer:     {result.optimizer} ({optimizer_options})",
        f"  options:       {options}",
        f"  suggested_lr:  {fmt(result.suggested_lr)}   (rule {result.rule})",
        f"  likely best:   {interval_text(result.lr_interval)}   "
        f"(for {_planned(result.options)} steps of training)",
        f"  bounds:        min_lr {fmt(result.min_lr)}, max_lr {fmt(result.max_lr)}",
        f"  stopped:       {stop_text(result)}",
        f"  points:        {len(result.history)}",
        f"  started:       {_iso(result.started_at)} UTC",
        f"  finished:      {_iso(result.finished_at)} UTC",
    ]
    return "\n".join(lines)


def interval_text(interval: tuple[float, float] | None) -> str:
    """``"0.01 .. 0.1"``, or ``"-"``."""
    return "-" if interval is None else f"{fmt(interval[0])} .. {fmt(interval[1])}"


def _planned(options: dict[str, Any]) -> str:
    planned = options.get("planned_steps")
    return "an unknown number of" if planned is None else str(planned)


def _model_line(summary: dict[str, Any]) -> str:
    if not summary:
        return "-"
    return (
        f"{summary.get('class', '?')}, {summary.get('parameters', '?')} parameters "
        f"({summary.get('trainable', '?')} trainable)"
    )


def _iso(moment: Any) -> str | None:
    return None if moment is None else moment.isoformat(timespec="seconds")
