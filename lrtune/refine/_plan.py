"""How ``refine`` spends its budget: candidates, rungs and survivors, as plain numbers.

The budget is counted in optimizer steps: ``budget`` full trainings of ``planned_steps``
steps each, the range test's steps included. What the range test leaves goes to
successive halving: ``candidates`` constant LRs train to the first rung, the best half go
on to a rung twice as far, and so on until two are left; each candidate's run is resumed,
never restarted, so a rung costs only the steps it adds. Validation passes are not steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lrtune._checks import is_int, is_number

CANDIDATES = 4
"""Chosen over 8 on the development families (benchmarks/README.md, "Refine quality")."""
ETA = 2
"""Each rung keeps ``1 / ETA`` of the candidates and trains them ``ETA`` times as far."""
MIN_FIRST_RUNG = 4
"""A first rung shorter than this many steps cannot tell candidates apart."""


@dataclass(frozen=True)
class RefinePlan:
    """The steps each part of a refine run may take.

    Args:
        planned_steps: The steps of one full training run.
        budget_steps: All ``refine`` may spend: ``budget * planned_steps``, rounded down.
        range_test_steps: What the range test takes.
        candidates: How many LRs start.
        rungs: After how many steps (per candidate) the survivors are judged.
        keep: How many go on after each rung; the last is 1, the winner.
    """

    planned_steps: int
    budget_steps: int
    range_test_steps: int
    candidates: int
    rungs: tuple[int, ...]
    keep: tuple[int, ...]

    @property
    def alive(self) -> tuple[int, ...]:
        """How many candidates train up to each rung."""
        return (self.candidates, *self.keep[:-1])

    @property
    def search_steps(self) -> int:
        """The steps the candidates take together, if none diverges early."""
        previous, total = 0, 0
        for alive, rung in zip(self.alive, self.rungs, strict=True):
            total += alive * (rung - previous)
            previous = rung
        return total

    @property
    def cost_steps(self) -> int:
        return self.range_test_steps + self.search_steps


def survivors(candidates: int, eta: int = ETA) -> tuple[int, ...]:
    """How many train up to each rung: ``candidates``, then divided by ``eta`` down to 2."""
    counts = [candidates]
    while counts[-1] // eta >= 2:
        counts.append(counts[-1] // eta)
    return tuple(counts)


def plan(
    planned_steps: int,
    budget: float,
    range_test_steps: int,
    *,
    candidates: int = CANDIDATES,
    eta: int = ETA,
) -> RefinePlan:
    """The rungs that spend what the range test leaves of ``budget`` full trainings.

    Raises:
        ValueError: The budget is not a positive number, or leaves too little after the
            range test for even the first rung; fewer than two candidates.
    """
    if not is_number(budget) or not budget > 0:
        raise ValueError(f"budget must be a positive number of full trainings, but got {budget=}.")
    if not math.isfinite(budget):
        raise ValueError(f"budget must be finite, but got {budget=}.")
    if not is_int(candidates) or candidates < 2:
        raise ValueError(f"candidates must be an integer of at least 2, but got {candidates=}.")
    budget_steps = int(budget * planned_steps)
    alive = survivors(candidates, eta)
    # Rung k trains alive[k] candidates from rung k-1 (eta^(k-1) units) to eta^k units.
    units = sum(n * (eta**k - (eta ** (k - 1) if k else 0)) for k, n in enumerate(alive))
    first = (budget_steps - range_test_steps) // units
    if first < MIN_FIRST_RUNG:
        needed = (range_test_steps + MIN_FIRST_RUNG * units) / planned_steps
        raise ValueError(
            f"budget={budget:g} full trainings ({budget_steps} steps of {planned_steps}) "
            f"leaves too little after the {range_test_steps}-step range test; "
            f"refine needs at least budget={math.ceil(needed * 100) / 100:g}."
        )
    # A budget beyond what the rungs can use stops the last rung at a full training.
    first = min(first, planned_steps // eta ** (len(alive) - 1))
    rungs = tuple(first * eta**k for k in range(len(alive)))
    keep = (*alive[1:], 1)
    return RefinePlan(planned_steps, budget_steps, range_test_steps, candidates, rungs, keep)
