"""How lrtune's default divisor was chosen: leave-one-task-out over ``minimum / k``.

lrtune suggests the LR where the zero-phase smoothed curve bottoms out, divided by ``k``.
This script re-derives ``k`` from the suggestion-quality results: for each well-conditioned
task it picks the ``k`` in 3..15 with the lowest median regret on the *other* tasks, then
scores that ``k`` on the held-out task. Regret at an LR off the grid is interpolated linearly
in log(lr) between the two neighbouring grid scores (no new training), so these figures
approximate the trained regrets of ``suggestion_quality.py``.

Usage::

    python benchmarks/divisor_selection.py [benchmarks/results/quality.json]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from _common import command_line

from lrtune.finder._suggest import smooth_minimum_lr

DIVISORS = (3, 4, 5, 6, 7, 8, 10, 12, 15)
NEAR_ZERO = 0.01
"""Cases whose best loss is below this share of the untrained loss are left out, as in
suggestion_quality.py: their ratio regret is ill-conditioned."""

Case = dict[str, Any]


def grid_score(case: Case, lr: float) -> float:
    """The grid's mean validation loss at ``lr``, interpolated in log(lr)."""
    lrs = np.log10([point["lr"] for point in case["grid"]])
    scores = np.array([np.inf if p["score"] is None else p["score"] for p in case["grid"]])
    x = float(np.clip(np.log10(lr), lrs[0], lrs[-1]))
    right = int(np.clip(np.searchsorted(lrs, x), 1, len(lrs) - 1))
    weight = (x - lrs[right - 1]) / (lrs[right] - lrs[right - 1])
    if not np.isfinite(scores[right - 1 : right + 1]).all():
        return float(scores[right] if weight > 0.5 else scores[right - 1])
    return float((1 - weight) * scores[right - 1] + weight * scores[right])


def regrets(divisor: float, cases: Sequence[Case]) -> list[float]:
    """Interpolated regret of ``minimum / divisor`` on every range test of ``cases``."""
    out = []
    for case in cases:
        for curve in case["range_tests"]:
            lowest = smooth_minimum_lr(np.array(curve["lr"]), np.array(curve["loss"], float))
            score = np.inf if lowest is None else grid_score(case, lowest / divisor)
            out.append(score / case["reference"]["best_loss"] - 1)
    return out


def best_divisor(cases: Sequence[Case]) -> int:
    """The divisor with the lowest median regret on ``cases`` (ties: the lower mean)."""

    def rank(divisor: int) -> tuple[float, float]:
        scored = regrets(divisor, cases)
        return float(np.median(scored)), float(np.mean(scored))

    return min(DIVISORS, key=rank)


def well_conditioned(cases: Sequence[Case]) -> list[Case]:
    return [
        c
        for c in cases
        if c["reference"]["best_loss"] >= NEAR_ZERO * c["reference"]["initial_loss"]
    ]


def main(argv: Sequence[str]) -> None:
    path = Path(argv[0]) if argv else Path(__file__).parent / "results" / "quality.json"
    cases = well_conditioned(json.loads(path.read_text())["cases"])
    print(f"Command: `{command_line()}`")
    print("\n| divisor | median interpolated regret (all well-conditioned cases) |")
    print("| ---: | ---: |")
    for k in DIVISORS:
        print(f"| {k} | {np.median(regrets(k, cases)):.3f} |")
    print("\n| held-out task | divisor chosen on the others | median regret on it |")
    print("| :--- | ---: | ---: |")
    held_out: list[float] = []
    for task in sorted({c["task"] for c in cases}):
        chosen = best_divisor([c for c in cases if c["task"] != task])
        scored = regrets(chosen, [c for c in cases if c["task"] == task])
        held_out += scored
        print(f"| {task} | {chosen} | {np.median(scored):.3f} |")
    print(f"\nMedian held-out regret: {np.median(held_out):.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
