"""Refine's horizon exponent and candidate count, chosen on the development families.

``refine_lr`` names a winner at its last rung, a fraction of the full training, and moves it
to the full length: ``lr = winner * (planned_steps / last_rung) ** exponent[kind]``. This
script reads the first development run of ``refine_quality.py`` (both designs, 8 and 4
candidates, run with the range test's horizon slope as the exponent; cached under that
run's code digest, ``FIRST_RUN_DIGEST``) and, per optimizer kind and design:

- fits the exponent on all development families (the constant ``HORIZON_EXPONENT`` holds),
- scores it leave-one-family-out: each family's runs moved by the exponent fitted on the
  other ten, regret interpolated on the ground-truth grid (``Reference.interpolated_loss``),
  capped at 2, as ``_rules.py`` fits.

Nothing is trained here; it takes about a minute from the cache. The design with the better
held-out figures (4 candidates) became the default; the fresh families of
``refine_quality.py`` then score the frozen design by training its LRs.

Usage::

    python benchmarks/refine_correction.py
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import suggestion_quality as sq
from _grid import Case, Reference, cases_of, reference
from _runs import Cache
from families import DEV_FAMILIES

FIRST_RUN_DIGEST = "ba6ac0220e3e"
DESIGNS = (8, 4)
SEEDS = (0, 1)
BUDGET = 1.5
EXPONENTS = np.arange(-1.0, 0.41, 0.02)
KINDS = ("sgd", "adamw", "rmsprop")


@dataclass(frozen=True)
class Run:
    family: str
    optimizer: str
    candidates: int
    winner_lr: float
    ratio: float
    """planned_steps / last rung."""
    ref: Reference

    def regret(self, exponent: float) -> float:
        lr = self.winner_lr * self.ratio**exponent
        return min(2.0, self.ref.regret(self.ref.interpolated_loss(lr)))


def runs_of(cache: Cache, cases: Sequence[Case]) -> list[Run]:
    runs = []
    for case in cases:
        ref = reference(cache, case)
        for seed in SEEDS:
            for candidates in DESIGNS:
                parts = (case.family, case.variant, case.optimizer, seed, BUDGET, candidates)
                found = cache["refine|" + "|".join(map(str, (*parts, FIRST_RUN_DIGEST)))]
                last = max(c["steps"][-1] for c in found["candidates"])
                ratio = found["planned_steps"] / last
                runs.append(
                    Run(case.family, case.optimizer, candidates, found["winner_lr"], ratio, ref)
                )
    return runs


def best_exponent(runs: Sequence[Run]) -> float:
    scores = [np.mean([run.regret(e) for run in runs]) for e in EXPONENTS]
    return float(EXPONENTS[int(np.argmin(scores))])


def held_out(runs: Sequence[Run], fit: Callable[[Sequence[Run]], float]) -> list[float]:
    regrets = []
    for family in sorted({run.family for run in runs}):
        exponent = fit([run for run in runs if run.family != family])
        regrets += [run.regret(exponent) for run in runs if run.family == family]
    return regrets


def line(name: str, regrets: Sequence[float]) -> str:
    values = np.array(regrets)
    return (
        f"| {name} | {np.median(values):.1%} | {np.mean(values <= 0.1):.0%} "
        f"| {values.mean():.3f} | {np.quantile(values, 0.9):.2f} | {len(values)} |"
    )


def main() -> None:
    cache = Cache(sq.CACHE)
    runs = runs_of(cache, cases_of([f.name for f in DEV_FAMILIES]))
    print("| design, kind | median regret | within 10% | mean (capped) | p90 | n |")
    print("| :--- | ---: | ---: | ---: | ---: | ---: |")
    fitted = {}
    for candidates in DESIGNS:
        overall = []
        for kind in KINDS:
            mine = [r for r in runs if r.candidates == candidates and r.optimizer == kind]
            fitted[(candidates, kind)] = best_exponent(mine)
            regrets = held_out(mine, best_exponent)
            overall += regrets
            print(line(f"{candidates} candidates, {kind} (held out)", regrets))
            print(
                line(
                    f"{candidates} candidates, {kind}, no correction", [r.regret(0.0) for r in mine]
                )
            )
        print(line(f"**{candidates} candidates, all (held out)**", overall))
    print()
    for (candidates, kind), exponent in fitted.items():
        print(
            f"- {candidates} candidates, {kind}: exponent fitted on all development "
            f"families {exponent:+.2f}"
        )
    assert all(math.isfinite(e) for e in fitted.values())


if __name__ == "__main__":
    main()
