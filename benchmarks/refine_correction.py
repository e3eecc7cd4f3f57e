"""Refine's last step, chosen on the development families: which LR it takes, and its exponent.

``refine_lr`` ends with a few candidates judged at a rung short of the full training. It
takes one LR from them and moves it to the full length:
``lr = taken * (planned_steps / rung) ** exponent[kind]``. This script compares three ways
of taking it, on the refine runs already cached for the 15 development families (the first
development run, ``FIRST_RUN_DIGEST``, and the first fresh run, ``FRESH_RUN_DIGEST``; both
4 candidates, budget 1.5, seeds 0 and 1):

- ``winner``: the last rung's winner (the design of both those runs);
- ``first-rung parabola``: the vertex of a parabola through the first rung's log losses,
  kept within half a spacing of that rung's best;
- ``interpolated``: the vertex between the last two survivors with the first rung's
  curvature (``lrtune.refine._interpolate``, the library's function).

Per optimizer kind the exponent is fitted (mean regret capped at 2, interpolated on the
ground-truth grid with ``Reference.interpolated_loss``) on all development families, which
``HORIZON_EXPONENT`` holds for the chosen way, and scored leave-one-family-out: each
family's runs are moved by the exponent fitted on the other 14. Two ceilings say what a
perfect final choice could reach: the best of the four candidates, and a one-seed grid
search over every lattice LR at the full length (seed ``s`` chooses, the three-seed mean
scores, so it is optimistic). Nothing is trained here: about a minute from the cache.

Usage::

    python benchmarks/refine_correction.py
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import suggestion_quality as sq
from _grid import SEEDS, Case, Reference, _score, cases_of, full_scores, reference
from _runs import Cache
from families import DEV_FAMILIES, FIRST_DEV_FAMILIES, FIRST_FRESH_FAMILIES

from lrtune.refine._interpolate import interpolated_lr
from lrtune.refine._result import Candidate

FIRST_RUN_DIGEST = "ba6ac0220e3e"
FRESH_RUN_DIGEST = "a535403beb5c"
SOURCES = ((FIRST_DEV_FAMILIES, FIRST_RUN_DIGEST), (FIRST_FRESH_FAMILIES, FRESH_RUN_DIGEST))
CANDIDATES = 4
SEEDS_RUN = (0, 1)
BUDGET = 1.5
EXPONENTS = np.arange(-1.0, 0.41, 0.02)
KINDS = ("sgd", "adamw", "rmsprop")


@dataclass(frozen=True)
class Run:
    """One cached refine run: its candidates and rungs, and its case's ground truth."""

    family: str
    optimizer: str
    planned_steps: int
    winner_lr: float
    candidates: tuple[Candidate, ...]
    rungs: tuple[int, ...]
    ref: Reference

    def regret(self, log_lr: float) -> float:
        return min(2.0, self.ref.regret(self.ref.interpolated_loss(10**log_lr)))


Taken = Callable[[Run], tuple[float, int]]
"""A way of taking the LR: ``(log10 lr, the rung it is for)``."""


def winner(run: Run) -> tuple[float, int]:
    return math.log10(run.winner_lr), run.rungs[-1]


def first_rung_parabola(run: Run) -> tuple[float, int]:
    first = run.rungs[0]
    points = [
        (math.log10(c.lr), math.log(c.val_losses[0]))
        for c in run.candidates
        if math.isfinite(c.val_losses[0])
    ]
    if len(points) < 3:
        return winner(run)
    xs, ys = map(np.array, zip(*points, strict=True))
    a, b, _ = np.polyfit(xs, ys, 2)
    best = float(xs[np.argmin(ys)])
    if a <= 0:
        return best, first
    spacing = math.log10(run.candidates[1].lr / run.candidates[0].lr)
    return float(np.clip(-b / (2 * a), best - spacing / 2, best + spacing / 2)), first


def interpolated(run: Run) -> tuple[float, int]:
    found = interpolated_lr(run.candidates, run.rungs)
    return winner(run) if found is None else (math.log10(found), run.rungs[-1])


WAYS: dict[str, Taken] = {
    "winner": winner,
    "first-rung parabola": first_rung_parabola,
    "interpolated": interpolated,
}


def run_of(found: dict, ref: Reference, case: Case) -> Run:
    candidates = tuple(
        Candidate(
            c["lr"],
            i,
            tuple(c["steps"]),
            tuple(math.inf if v is None else v for v in c["val_losses"]),
            False,
        )
        for i, c in enumerate(sorted(found["candidates"], key=lambda c: c["lr"]))
    )
    rungs = tuple(sorted({step for c in candidates for step in c.steps}))
    return Run(
        case.family,
        case.optimizer,
        found["planned_steps"],
        found["winner_lr"],
        candidates,
        rungs,
        ref,
    )


def runs_of(cache: Cache) -> list[Run]:
    runs = []
    for families, digest in SOURCES:
        for case in cases_of([f.name for f in families]):
            ref = reference(cache, case)
            for seed in SEEDS_RUN:
                parts = (case.family, case.variant, case.optimizer, seed, BUDGET, CANDIDATES)
                key = "refine|" + "|".join(map(str, (*parts, digest)))
                runs.append(run_of(cache[key], ref, case))
    return runs


def moved(run: Run, way: Taken, exponent: float) -> float:
    log_lr, rung = way(run)
    return run.regret(log_lr + exponent * math.log10(run.planned_steps / rung))


def best_exponent(runs: Sequence[Run], way: Taken) -> float:
    scores = [np.mean([moved(run, way, e) for run in runs]) for e in EXPONENTS]
    return float(EXPONENTS[int(np.argmin(scores))])


def held_out(runs: Sequence[Run], way: Taken) -> list[float]:
    regrets = []
    for family in sorted({run.family for run in runs}):
        exponent = best_exponent([run for run in runs if run.family != family], way)
        regrets += [moved(run, way, exponent) for run in runs if run.family == family]
    return regrets


def one_seed_grid_search(cache: Cache) -> list[float]:
    """Regret of the lattice LR that one seed's full training likes best."""
    regrets = []
    for case in cases_of([f.name for f in DEV_FAMILIES]):
        ref, full = reference(cache, case), full_scores(cache, case)
        for seed in SEEDS:
            mine = {j: _score(cache, case, j, (seed,)) for j in full}
            chosen = min(mine, key=lambda j: mine[j])  # type: ignore[arg-type, return-value]
            regrets.append(min(2.0, ref.regret(full[chosen])))
    return regrets


def line(name: str, regrets: Sequence[float]) -> str:
    values = np.array(regrets)
    return (
        f"| {name} | {np.median(values):.1%} | {np.mean(values <= 0.1):.0%} "
        f"| {values.mean():.3f} | {np.quantile(values, 0.9):.2f} | {len(values)} |"
    )


def main() -> None:
    cache = Cache(sq.CACHE)
    runs = runs_of(cache)
    print("| way taken, kind | median regret | within 10% | mean (capped) | p90 | n |")
    print("| :--- | ---: | ---: | ---: | ---: | ---: |")
    fitted = {}
    for name, way in WAYS.items():
        overall = []
        for kind in KINDS:
            mine = [r for r in runs if r.optimizer == kind]
            fitted[(name, kind)] = best_exponent(mine, way)
            overall += held_out(mine, way)
        print(line(f"**{name}, all kinds (held out)**", overall))
        for kind in KINDS:
            mine = [r for r in runs if r.optimizer == kind]
            print(line(f"{name}, {kind} (held out)", held_out(mine, way)))
    best_of = [min(r.regret(math.log10(c.lr)) for c in r.candidates) for r in runs]
    print(line("ceiling: the best of the 4 candidates, at full length", best_of))
    print(line("ceiling: one-seed grid search, full length, every LR", one_seed_grid_search(cache)))
    print()
    for (name, kind), exponent in fitted.items():
        print(f"- {name}, {kind}: exponent fitted on all development families {exponent:+.2f}")
    assert all(math.isfinite(e) for e in fitted.values())


if __name__ == "__main__":
    main()
