"""Ground truth: the best constant LR of each case, from a staged grid with several seeds.

LRs live on a lattice of eighth decades, ``lr = 10 ** (j / 8)``. For each case:

1. *Coarse*: every half decade (``j`` a multiple of 4) over the optimizer's range (SGD
   1e-4..10, adaptive optimizers 1e-5..1), seed 0 only. While seed 0's best lies on the
   range's edge, the range grows by a decade on that side (down to 1e-7, up to 100).
2. *Dense*: every quarter decade within one decade of the coarse best, all seeds. While
   the dense best (mean over seeds) lies on the dense region's edge, the region grows.
3. *Fine*: the two eighth-decade neighbours of the dense best, all seeds.

An LR's score is the mean final validation loss over the seeds; a seed that diverged
makes it +inf. The best LR is the argmin over the LRs that have every seed, so the
reference never rests on one seed. Points outside the dense region keep seed 0 only; they
matter only for interpolating regret far from the best, where regret is large anyway.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from _runs import Cache, Mapper, TrainJob

SEEDS = (0, 1, 2)
COARSE = {"sgd": (-32, 8)}
"""Coarse range per optimizer in lattice units (eighth decades); others use ``ADAPTIVE``."""
ADAPTIVE = (-40, 0)
LIMITS = (-56, 16)
"""The coarse range never grows past 1e-7 or 100."""
DENSE_HALF_WIDTH = 8
"""One decade on either side of the coarse best."""


def lattice_lr(j: int) -> float:
    return float(10 ** (j / 8))


@dataclass(frozen=True)
class Case:
    """A family's variant trained with one optimizer."""

    family: str
    variant: str
    optimizer: str

    @property
    def name(self) -> str:
        return f"{self.family}/{self.variant}/{self.optimizer}"

    def job(self, lr: float, seed: int) -> TrainJob:
        return TrainJob(self.family, self.variant, self.optimizer, lr, seed)


def _score(cache: Cache, case: Case, j: int, seeds: Sequence[int]) -> float | None:
    """Mean final loss over ``seeds`` (+inf if one diverged); ``None`` if one is missing."""
    keys = [case.job(lattice_lr(j), seed).key for seed in seeds]
    if any(key not in cache for key in keys):
        return None
    runs = [cache[key] for key in keys]
    if any(run["diverged"] for run in runs):
        return math.inf
    return float(np.mean([run["final"] for run in runs]))


def _missing(cache: Cache, case: Case, js: Sequence[int], seeds: Sequence[int]) -> list[TrainJob]:
    jobs = [case.job(lattice_lr(j), seed) for j in js for seed in seeds]
    return [job for job in jobs if job.key not in cache]


def _argmin(scores: dict[int, float]) -> int:
    return min(scores, key=lambda j: (scores[j], j))


def coarse_range(cache: Cache, case: Case) -> tuple[list[int], list[TrainJob]]:
    """The coarse lattice points, grown while seed 0's best sits on an edge."""
    low, high = COARSE.get(case.optimizer, ADAPTIVE)
    while True:
        js = list(range(low, high + 1, 4))
        missing = _missing(cache, case, js, SEEDS[:1])
        if missing:
            return js, missing
        scores = {j: _score(cache, case, j, SEEDS[:1]) for j in js}
        best = _argmin(scores)  # type: ignore[arg-type]
        if best == low and low - 8 >= LIMITS[0]:
            low -= 8
        elif best == high and high + 8 <= LIMITS[1]:
            high += 8
        else:
            return js, []


def pending_jobs(cache: Cache, case: Case) -> list[TrainJob]:
    """The next runs the case's ground truth needs; empty when it is complete."""
    js, missing = coarse_range(cache, case)
    if missing:
        return missing
    seed0 = {j: _score(cache, case, j, SEEDS[:1]) for j in js}
    center = _argmin(seed0)  # type: ignore[arg-type]
    while True:
        dense = list(range(center - DENSE_HALF_WIDTH, center + DENSE_HALF_WIDTH + 1, 2))
        missing = _missing(cache, case, dense, SEEDS)
        if missing:
            return missing
        best = _argmin(full_scores(cache, case))
        if abs(best - center) < DENSE_HALF_WIDTH or not LIMITS[0] <= best <= LIMITS[1]:
            break
        center = best
    return _missing(cache, case, [best - 1, best + 1], SEEDS)


def full_scores(cache: Cache, case: Case) -> dict[int, float]:
    """Scores of every lattice point with all seeds."""
    scores = {}
    for j in range(LIMITS[0] - 8, LIMITS[1] + 9):
        score = _score(cache, case, j, SEEDS)
        if score is not None:
            scores[j] = score
    return scores


def seed0_scores(cache: Cache, case: Case) -> dict[int, float]:
    scores = {}
    for j in range(LIMITS[0] - 8, LIMITS[1] + 9):
        score = _score(cache, case, j, SEEDS[:1])
        if score is not None:
            scores[j] = score
    return scores


@dataclass(frozen=True)
class Reference:
    """What a case's suggestions are compared with."""

    case: Case
    best_lr: float
    best_loss: float
    initial_loss: float
    """The untrained model's validation loss."""
    curve: tuple[tuple[float, float], ...]
    """``(log10 lr, score)`` for interpolation: all-seed scores, else seed 0's."""
    on_edge: bool

    def regret(self, loss: float) -> float:
        return loss / self.best_loss - 1.0

    def normalized_regret(self, loss: float) -> float:
        return (loss - self.best_loss) / (self.initial_loss - self.best_loss)

    def interpolated_loss(self, lr: float) -> float:
        """The grid's score at ``lr``, linear in log10(lr); +inf past a diverged neighbour.

        Between a finite and a diverged point the loss is +inf from the midpoint on: the
        grid cannot say where in between training starts to diverge.
        """
        x = math.log10(lr)
        xs = [point[0] for point in self.curve]
        ys = [point[1] for point in self.curve]
        if x <= xs[0]:
            return ys[0]
        if x >= xs[-1]:
            return ys[-1]
        i = int(np.searchsorted(xs, x))
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        t = (x - x0) / (x1 - x0)
        if math.isinf(y0) or math.isinf(y1):
            return (y0 if t < 0.5 else y1) if math.isinf(y0) != math.isinf(y1) else math.inf
        return y0 + t * (y1 - y0)


def reference(cache: Cache, case: Case) -> Reference:
    full = full_scores(cache, case)
    if not full or not any(math.isfinite(s) for s in full.values()):
        raise RuntimeError(f"{case.name}: no LR with every seed finite.")
    best = _argmin(full)
    merged = {**seed0_scores(cache, case), **full}
    curve = tuple((j / 8, merged[j]) for j in sorted(merged))
    initial = float(np.mean([cache[case.job(lattice_lr(best), s).key]["initial"] for s in SEEDS]))
    on_edge = best in (min(merged), max(merged))
    return Reference(case, lattice_lr(best), full[best], initial, curve, on_edge)


def cases_of(families: Sequence[str]) -> list[Case]:
    from families import FAMILIES

    return [Case(name, v, opt) for name in families for v, opt in FAMILIES[name].cases]


def complete(cases: Sequence[Case], cache: Cache, mapper: Mapper) -> int:
    """Run grid rounds until every case's ground truth is complete; return the runs made."""
    ran, round_ = 0, 0
    while True:
        jobs = [job for case in cases for job in pending_jobs(cache, case)]
        if not jobs:
            return ran
        round_ += 1
        ran += cache.run(jobs, mapper, f"grid round {round_}")
