"""Suggestion rules on synthetic curves, and the published rules against their sources."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from lrtune._exceptions import RegistryError
from lrtune.finder import DEFAULT_RULE, RULES, Suggestion, suggest
from lrtune.finder._horizon import DEFAULT_KIND, MODEL
from lrtune.finder._suggest import MIN_POINTS, Curve, smoothed_curve

LRTUNE_RULES = [name for name in RULES if name.split("-")[0] == "lrtune"]
PUBLISHED_RULES = ["minimum", "steepest", "valley"]


def clean_curve(log_lrs: np.ndarray) -> np.ndarray:
    """Flat, a sigmoid descent centred on 1e-4, a slow decline, an explosion past 0.1."""
    descent = 2.0 / (1.0 + np.exp(2.5 * (log_lrs + 4.0)))
    return 0.5 + descent - 0.04 * log_lrs + 0.2 * np.exp(4.0 * (log_lrs + 0.5))


def synthetic(n: int = 100, *, seed: int = 0, noise: float = 0.03) -> tuple[np.ndarray, ...]:
    """``(lrs, noisy losses, clean losses)`` of a 1e-7 .. 10 sweep."""
    lrs = np.geomspace(1e-7, 10.0, n)
    clean = clean_curve(np.log10(lrs))
    return lrs, clean + np.random.default_rng(seed).normal(0.0, noise, n), clean


def history(lrs: np.ndarray, losses: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"lr": lrs, "loss": losses})


def other_curves() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Shapes where the rules have nothing good to find."""
    lrs = np.geomspace(1e-6, 1.0, 80)
    rng = np.random.default_rng(3)
    return {
        "rising": (lrs, np.linspace(1.0, 5.0, 80) + rng.normal(0.0, 0.01, 80)),
        "strictly-rising": (lrs, np.linspace(1.0, 5.0, 80)),
        "flat": (lrs, np.full(80, 2.0)),
        "noise": (lrs, 2.0 + rng.normal(0.0, 0.3, 80)),
    }


REFERENCE_CURVES = {
    **{f"descent-seed{seed}": synthetic(seed=seed)[:2] for seed in range(4)},
    "descent-300-points": synthetic(300, seed=1)[:2],
    **other_curves(),
}


# --- references, ported line by line -------------------------------------------------


def fastai_recorded_losses(raw: np.ndarray, beta: float = 0.98) -> np.ndarray:
    """fastai's ``AvgSmoothLoss``: ``val = torch.lerp(loss, val, beta)``, debiased."""
    val, recorded = torch.tensor(0.0, dtype=torch.float64), []
    for count, loss in enumerate(raw, start=1):
        val = torch.lerp(torch.tensor(loss, dtype=torch.float64), val, beta)
        recorded.append(float(val / (1 - beta**count)))
    return np.array(recorded)


def fastai_curve(lrs: np.ndarray, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``lr_find``: ``lrs[num_it//10:-5]``, ``losses[num_it//10:-5]`` of the recorder."""
    num_it = len(raw)
    return lrs[num_it // 10 : -5], fastai_recorded_losses(raw)[num_it // 10 : -5]


def fastai_valley(lrs: np.ndarray, losses: np.ndarray) -> float:
    """fastai 2's ``valley``, as written there."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return float(lrs[idx])


def torch_lr_finder_history(raw: np.ndarray, smooth_f: float = 0.05) -> list[float]:
    """``LRFinder.range_test``'s recorded losses."""
    recorded: list[float] = []
    for iteration, loss in enumerate(raw):
        if iteration > 0:
            loss = smooth_f * loss + (1 - smooth_f) * recorded[-1]
        recorded.append(float(loss))
    return recorded


def torch_lr_finder_suggest_lr(
    lrs: np.ndarray, losses: list[float], skip_start: int = 10, skip_end: int = 5
) -> float:
    """``LRFinder.plot``'s ``suggest_lr`` branch."""
    lrs, losses = lrs[skip_start:-skip_end], losses[skip_start:-skip_end]
    min_grad_idx = (np.gradient(np.array(losses))).argmin()
    return float(lrs[min_grad_idx])


# --- the published rules -------------------------------------------------------------


@pytest.mark.parametrize("curve", list(REFERENCE_CURVES))
def test_valley_matches_fastai(curve: str) -> None:
    lrs, losses = REFERENCE_CURVES[curve]

    suggested = suggest(history(lrs, losses), "valley").lr

    assert suggested == fastai_valley(*fastai_curve(lrs, losses))


@pytest.mark.parametrize("curve", list(REFERENCE_CURVES))
def test_minimum_is_a_tenth_of_the_lowest_point_of_fastais_curve(curve: str) -> None:
    lrs, losses = REFERENCE_CURVES[curve]
    curve_lrs, curve_losses = fastai_curve(lrs, losses)

    suggested = suggest(history(lrs, losses), "minimum").lr

    assert suggested == curve_lrs[np.argmin(curve_losses)] / 10


@pytest.mark.parametrize("curve", list(REFERENCE_CURVES))
def test_steepest_matches_torch_lr_finder(curve: str) -> None:
    lrs, losses = REFERENCE_CURVES[curve]

    suggested = suggest(history(lrs, losses), "steepest").lr

    assert suggested == torch_lr_finder_suggest_lr(lrs, torch_lr_finder_history(losses))


# --- every rule on a curve with a clear descent --------------------------------------


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_rule_suggests_an_lr_inside_the_descent(rule: str, seed: int) -> None:
    lrs, losses, clean = synthetic(seed=seed)
    lowest = int(np.argmin(clean))
    started = int(np.argmax(clean < clean[0] - 0.05 * (clean[0] - clean[lowest])))

    suggested = suggest(history(lrs, losses), rule).lr

    assert suggested is not None
    assert lrs[started] <= suggested <= lrs[lowest]


@pytest.mark.parametrize("kind", ["sgd", "adam", "rmsprop", None])
@pytest.mark.parametrize("planned_steps", [None, 100, 5000])
def test_lrtune_moves_the_smoothed_minimum_by_the_horizon_model(
    kind: str | None, planned_steps: int | None
) -> None:
    frame = history(*synthetic(seed=1)[:2])
    line = MODEL.line(kind, planned_steps)

    suggestion = suggest(frame, "lrtune", planned_steps=planned_steps, optimizer_kind=kind)

    assert suggestion.max_lr is not None and suggestion.lr is not None
    decades = line.offset + (
        0.0 if planned_steps is None else line.slope * math.log10(planned_steps / 100)
    )
    assert suggestion.lr == pytest.approx(suggestion.max_lr * 10**decades, rel=1e-12)
    assert suggestion.lr_interval == pytest.approx(
        (suggestion.lr * 10**-line.below, suggestion.lr * 10**line.above), rel=1e-12
    )


def test_the_interval_holds_the_suggestion_whatever_the_rule() -> None:
    frame = history(*synthetic(seed=2)[:2])
    lrtune = suggest(frame, "lrtune", planned_steps=800, optimizer_kind="sgd")

    for rule in RULES:
        other = suggest(frame, rule, planned_steps=800, optimizer_kind="sgd")
        assert other.lr_interval == lrtune.lr_interval, rule
    assert lrtune.lr_interval is not None and lrtune.lr is not None
    low, high = lrtune.lr_interval
    assert low < lrtune.lr < high


def test_an_unknown_optimizer_kind_is_treated_as_adam() -> None:
    frame = history(*synthetic(seed=0)[:2])

    assert suggest(frame, "lrtune", optimizer_kind="lion") == suggest(
        frame, "lrtune", optimizer_kind=DEFAULT_KIND
    )


def test_without_a_training_length_the_interval_is_the_unknown_lines() -> None:
    frame = history(*synthetic(seed=3)[:2])

    suggestion = suggest(frame, "lrtune", optimizer_kind="sgd")

    line = MODEL.unknown["sgd"]
    assert suggestion.max_lr is not None and suggestion.lr_interval is not None
    assert suggestion.lr == pytest.approx(suggestion.max_lr * 10**line.offset, rel=1e-12)
    low, high = suggestion.lr_interval
    assert math.log10(high / low) == pytest.approx(line.below + line.above)


def test_lrtune_min6_is_the_smoothed_minimum_over_six() -> None:
    frame = history(*synthetic(seed=1)[:2])
    suggestion = suggest(frame, "lrtune-min6", planned_steps=10_000, optimizer_kind="sgd")

    assert suggestion.max_lr is not None
    assert suggestion.lr == pytest.approx(suggestion.max_lr / 6, rel=1e-15)


def test_the_horizon_model_has_a_line_for_every_kind() -> None:
    for lines in (MODEL.known, MODEL.unknown):
        assert set(lines) == {"sgd", "adam", "rmsprop"}
        for line in lines.values():
            assert line.below > 0 and line.above > 0
            assert line.offset < 0  # below the point where the loss stops falling
    assert all(line.slope == 0 for line in MODEL.unknown.values())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_bounds_are_the_smoothed_minimum_and_a_quarter_of_it(seed: int) -> None:
    lrs, losses, clean = synthetic(seed=seed)

    suggestion = suggest(history(lrs, losses), DEFAULT_RULE)

    assert suggestion.max_lr == lrs[np.argmin(smoothed_curve(lrs, losses))]
    assert abs(math.log10(suggestion.max_lr / lrs[np.argmin(clean)])) < 0.5
    assert suggestion.min_lr == suggestion.max_lr / 4


def test_a_bigger_explosion_does_not_move_the_smoothed_minimum() -> None:
    lrs, losses, _ = synthetic(seed=0)
    exploded = losses.copy()
    exploded[-20:] *= 1000.0  # the rise past the minimum, a thousand times steeper

    plain, louder = (
        suggest(history(lrs, losses), "lrtune"),
        suggest(history(lrs, exploded), "lrtune"),
    )

    assert louder == plain


# --- degenerate curves ---------------------------------------------------------------


@pytest.mark.parametrize("rule", list(RULES))
def test_fewer_than_eight_points_suggest_nothing(rule: str) -> None:
    lrs, losses, _ = synthetic(MIN_POINTS - 1)

    assert suggest(history(lrs, losses), rule) == Suggestion(None, None, None, rule, None)


def test_eight_points_are_enough_for_the_bounds() -> None:
    lrs = np.geomspace(1e-4, 1.0, MIN_POINTS)
    losses = np.array([3.0, 2.9, 2.5, 1.8, 1.2, 1.0, 1.4, 3.0])

    suggestion = suggest(history(lrs, losses), "lrtune")

    assert suggestion.max_lr is not None and suggestion.lr is not None


@pytest.mark.parametrize("curve", ["rising", "strictly-rising", "flat"])
def test_a_curve_that_never_falls_gets_no_lrtune_suggestion(curve: str) -> None:
    frame = history(*other_curves()[curve])

    for rule in LRTUNE_RULES:
        assert suggest(frame, rule) == Suggestion(None, None, None, rule), rule
    for rule in PUBLISHED_RULES:  # these pick a point whatever the shape; they must not fail
        suggested = suggest(frame, rule).lr
        assert suggested is None or frame["lr"].min() / 10 <= suggested <= frame["lr"].max()


@pytest.mark.parametrize("rule", list(RULES))
def test_non_finite_points_are_ignored(rule: str) -> None:
    lrs, losses, _ = synthetic(seed=2)
    damaged = losses.copy()
    bad = [3, 40, 41, 77]
    damaged[bad] = [np.nan, np.inf, -np.inf, np.nan]
    keep = np.setdiff1d(np.arange(len(lrs)), bad)

    assert suggest(history(lrs, damaged), rule) == suggest(history(lrs[keep], losses[keep]), rule)


@pytest.mark.parametrize("rule", list(RULES))
@pytest.mark.parametrize("seed", [0, 1])
def test_rules_do_not_depend_on_the_loss_offset(rule: str, seed: int) -> None:
    lrs, losses, _ = synthetic(seed=seed)

    shifted = suggest(history(lrs, losses - 10.0), rule)

    assert shifted == suggest(history(lrs, losses), rule)
    assert shifted.lr is not None


@pytest.mark.parametrize("rule", list(RULES))
def test_rules_leave_their_inputs_alone(rule: str) -> None:
    lrs, losses, _ = synthetic(seed=0)
    lrs_copy, losses_copy = lrs.copy(), losses.copy()

    RULES.get(rule)(Curve(lrs, losses, 1000, "sgd"))

    np.testing.assert_array_equal(lrs, lrs_copy)
    np.testing.assert_array_equal(losses, losses_copy)


def test_unknown_rule_raises_a_registry_error_listing_the_choices() -> None:
    frame = history(*synthetic()[:2])

    with pytest.raises(RegistryError, match=r"suggestion rule 'nope'.*lrtune-min6"):
        suggest(frame, "nope")


def test_default_rule_is_registered() -> None:
    assert DEFAULT_RULE in RULES
    assert set(PUBLISHED_RULES) <= set(RULES)


def test_a_lucky_low_first_point_does_not_hide_a_later_descent() -> None:
    # digits-autoencoder with SGD, finder seed 3: the first batch's loss happened to be the
    # lowest of the noisy plateau, and the descent came late and shallow.
    rng = np.random.default_rng(3)
    lrs = np.geomspace(1e-7, 10.0, 100)
    losses = 0.9 + 0.03 * rng.standard_normal(100)
    losses[0] = 0.3
    losses[80:95] -= np.linspace(0.02, 0.12, 15)

    suggestion = suggest(history(lrs, losses), "lrtune")

    assert suggestion.max_lr is not None and suggestion.lr is not None
    assert lrs[80] <= suggestion.max_lr <= lrs[99]
