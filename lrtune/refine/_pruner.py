"""Synchronous successive halving as an Optuna pruner.

Optuna's ``SuccessiveHalvingPruner`` is asynchronous (ASHA): a trial is judged against
the trials that reached its rung *before* it, so when every candidate reaches a rung
together the verdicts depend on the order they are asked in. ``refine`` trains all of a
rung's candidates first and then asks, so this pruner judges each against all of them:
after rung ``k`` the ``keep[k]`` best go on, ties going to the earlier trial.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import optuna
from optuna.trial import FrozenTrial


class HalvingPruner(optuna.pruners.BasePruner):
    """Keep the best ``keep[k]`` of the trials that reported at step ``rungs[k]``.

    Args:
        rungs: The steps at which trials report, increasing.
        keep: How many trials go on after each rung, one count per rung.
    """

    def __init__(self, rungs: Sequence[int], keep: Sequence[int]) -> None:
        if len(rungs) != len(keep) or not rungs:
            raise ValueError(f"rungs and keep must have one entry each, but got {rungs=}, {keep=}.")
        if any(b <= a for a, b in itertools.pairwise(rungs)):
            raise ValueError(f"rungs must increase, but got {rungs=}.")
        if any(count < 1 for count in keep):
            raise ValueError(f"keep must hold positive counts, but got {keep=}.")
        self.rungs = tuple(int(step) for step in rungs)
        self.keep = tuple(int(count) for count in keep)

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step not in self.rungs:
            return False
        rank = self.rank(study.get_trials(deepcopy=False), trial, step)
        return rank >= self.keep[self.rungs.index(step)]

    @staticmethod
    def rank(trials: Sequence[FrozenTrial], trial: FrozenTrial, step: int) -> int:
        """How many trials that reported at ``step`` did better than ``trial`` there."""
        mine = _sort_key(trial, step)
        return sum(
            1
            for other in trials
            if step in other.intermediate_values and _sort_key(other, step) < mine
        )


def _sort_key(trial: FrozenTrial, step: int) -> tuple[float, int]:
    value = trial.intermediate_values[step]
    return (value if math.isfinite(value) else math.inf), trial.number
