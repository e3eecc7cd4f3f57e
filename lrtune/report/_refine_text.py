"""Plain-text tables and JSON-ready dicts for refine runs (no printing here)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from lrtune.report._text import fmt, interval_text, table

if TYPE_CHECKING:
    from lrtune.refine import RefineResult


def refine_table(result: RefineResult) -> str:
    """One row per candidate: its LR, how far it trained, its last validation loss."""
    headers = ["trial", "lr", "steps", "val_loss", ""]
    rows = []
    for candidate in result.candidates:
        last = candidate.val_losses[-1] if candidate.val_losses else math.nan
        status = "pruned" if candidate.pruned else "winner"
        rows.append(
            [str(candidate.trial), fmt(candidate.lr), str(candidate.steps[-1]), fmt(last), status]
        )
    return table(headers, rows)


def refine_summary(result: RefineResult) -> str:
    """What to train with, and what finding it cost."""
    interval = result.attrs.get("interval")
    between = result.interpolated_lr
    start = "" if between is None else f", interpolated to {fmt(between)}"
    return "\n".join(
        [
            f"{result.task} / {result.optimizer}: train at lr {fmt(result.lr)} "
            f"(the winner {fmt(result.winner_lr)} at {result.rungs[-1]} steps{start}, "
            f"moved to the full {result.planned_steps} steps)",
            f"  searched:  {interval_text(tuple(interval) if interval else None)} "
            f"(the range test's interval), {len(result.candidates)} candidates, "
            f"rungs at {', '.join(map(str, result.rungs))} steps",
            f"  cost:      {result.cost_steps} of {result.budget_steps} budget steps "
            f"({result.budget:.2f} full trainings, range test included)",
            f"  study:     {result.study_name or '-'}",
        ]
    )


def refine_dict(result: RefineResult) -> dict[str, Any]:
    """A JSON-ready view of ``result``."""
    return {
        "study": result.study_name,
        "task": result.task,
        "optimizer": result.optimizer,
        "lr": result.lr,
        "winner_lr": result.winner_lr,
        "interpolated_lr": result.interpolated_lr,
        "planned_steps": result.planned_steps,
        "budget_steps": result.budget_steps,
        "cost_steps": result.cost_steps,
        "rungs": list(result.rungs),
        "range_test_id": result.range_test_id,
        "interval": result.attrs.get("interval"),
        "candidates": [
            {
                "trial": c.trial,
                "lr": c.lr,
                "steps": list(c.steps),
                "val_losses": [v if math.isfinite(v) else None for v in c.val_losses],
                "pruned": c.pruned,
            }
            for c in result.candidates
        ],
    }
