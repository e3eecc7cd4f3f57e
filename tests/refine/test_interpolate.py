"""The vertex between the last rung's survivors, from the first rung's curvature."""

from __future__ import annotations

import math

import pytest

from lrtune.refine import refine_lr
from lrtune.refine._interpolate import interpolated_lr
from lrtune.refine._refine import HORIZON_EXPONENT
from lrtune.refine._result import Candidate

RUNGS = (10, 20)


def _parabola(x: float, vertex: float, curvature: float, level: float) -> float:
    """A validation loss whose log is a parabola in log10(lr)."""
    return math.exp(curvature * (math.log10(x) - vertex) ** 2 + level)


def _candidates(vertex_0: float, vertex_1: float, curvature: float = 2.0) -> list[Candidate]:
    """Four candidates a decade apart at 10 steps; the middle two go on to 20 steps."""
    lrs = (1e-3, 1e-2, 1e-1, 1.0)
    out = []
    for i, lr in enumerate(lrs):
        first = _parabola(lr, vertex_0, curvature, 0.0)
        if i in (1, 2):
            steps, losses = RUNGS, (first, _parabola(lr, vertex_1, curvature, -1.0))
        else:
            steps, losses = RUNGS[:1], (first,)
        out.append(Candidate(lr, i, steps, losses, pruned=i != 2))
    return out


def test_the_vertex_of_the_last_rung_is_found_with_the_first_rungs_curvature() -> None:
    # The valley moves from 10^-1.6 after the first rung to 10^-1.3 after the last.
    found = interpolated_lr(_candidates(-1.6, -1.3), RUNGS)

    assert found == pytest.approx(10**-1.3)


def test_the_vertex_stays_within_half_a_spacing_outside_the_survivors() -> None:
    found = interpolated_lr(_candidates(-1.5, 3.0), RUNGS)

    assert found == pytest.approx(10**-0.5)  # 0.1 plus half the decade between 0.01 and 0.1


def test_no_vertex_without_curvature_two_survivors_or_two_rungs() -> None:
    flat = [
        Candidate(c.lr, c.trial, c.steps, (1.0, *c.val_losses[1:]), c.pruned)
        for c in _candidates(-1.6, -1.3)
    ]
    diverged = [
        Candidate(c.lr, c.trial, c.steps, (*c.val_losses[:1], math.inf), c.pruned)
        if len(c.steps) == 2 and c.trial == 1
        else c
        for c in _candidates(-1.6, -1.3)
    ]

    assert interpolated_lr(flat, RUNGS) is None  # a flat first rung has no curvature
    assert interpolated_lr(diverged, RUNGS) is None  # one survivor diverged
    assert interpolated_lr(_candidates(-1.6, -1.3), RUNGS[:1]) is None


def test_refine_moves_the_interpolated_lr_to_the_full_length(tmp_path) -> None:
    result = refine_lr(
        "breast-cancer-logreg", optimizer="sgd", storage=f"sqlite:///{tmp_path / 'r.db'}"
    )

    assert result.interpolated_lr is not None  # this task's first rung is convex
    ratio = result.planned_steps / result.rungs[-1]
    assert result.lr == pytest.approx(result.interpolated_lr * ratio ** HORIZON_EXPONENT["sgd"])
    assert result.attrs["interpolated_lr"] == result.interpolated_lr
