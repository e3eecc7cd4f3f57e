"""The online EMA that drives the stop, and the zero-phase curve the rules read."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrtune.finder._smoothing import EmaSmoother, ema, zero_phase


def test_ema_starts_at_the_first_value() -> None:
    assert EmaSmoother(0.98).update(5.0) == pytest.approx(5.0, rel=1e-15)


def test_ema_of_a_constant_is_the_constant() -> None:
    np.testing.assert_allclose(ema(np.full(200, 3.0), 0.98), 3.0, rtol=1e-12)


def test_ema_is_the_debiased_weighted_mean_of_the_past() -> None:
    values = np.random.default_rng(0).normal(2.0, 1.0, 30)
    beta = 0.9
    expected = [
        sum(beta ** (n - i) * (1 - beta) * values[i] for i in range(n + 1)) / (1 - beta ** (n + 1))
        for n in range(len(values))
    ]

    np.testing.assert_allclose(ema(values, beta), expected, rtol=1e-12)


def test_ema_matches_fastais_lerp_formulation() -> None:
    values = np.random.default_rng(1).normal(2.0, 1.0, 50)
    val, expected = torch.tensor(0.0, dtype=torch.float64), []
    for count, loss in enumerate(values, start=1):
        val = torch.lerp(torch.tensor(loss, dtype=torch.float64), val, 0.98)
        expected.append(float(val / (1 - 0.98**count)))

    np.testing.assert_allclose(ema(values, 0.98), expected, rtol=1e-12)


def test_ema_with_beta_zero_is_the_raw_series() -> None:
    values = np.array([3.0, -1.0, 7.5])
    np.testing.assert_array_equal(ema(values, 0.0), values)


def test_ema_lags_a_step_by_about_one_over_one_minus_beta() -> None:
    step = np.r_[np.zeros(50), np.ones(200)]
    smoothed = ema(step, 0.9)
    halfway = int(np.argmax(smoothed > 0.5))
    assert 50 + 5 <= halfway <= 50 + 10  # ln 2 / (1 - 0.9) ~ 7 points late


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5])
def test_beta_outside_zero_one_is_rejected(beta: float) -> None:
    with pytest.raises(ValueError, match="smoothing"):
        EmaSmoother(beta)


def test_zero_phase_keeps_a_constant_and_is_not_pulled_down_at_the_ends() -> None:
    x = np.linspace(-7.0, 1.0, 100)
    np.testing.assert_allclose(zero_phase(x, np.full(100, 2.0), 0.25), 2.0, rtol=1e-12)


def test_zero_phase_does_not_shift_a_peak() -> None:
    x = np.linspace(-7.0, 1.0, 101)
    bump = np.exp(-0.5 * ((x + 3.0) / 0.5) ** 2)

    smoothed = zero_phase(x, bump, 0.25)

    assert np.argmax(smoothed) == np.argmax(bump) == 50
    assert smoothed.max() < bump.max()  # it did smooth


def test_zero_phase_width_is_measured_in_units_of_x() -> None:
    x = np.sort(np.random.default_rng(2).uniform(-7.0, 1.0, 60))  # uneven spacing
    y = np.random.default_rng(3).normal(0.0, 1.0, 60)

    np.testing.assert_allclose(zero_phase(x, y, 0.3), zero_phase(10 * x, y, 3.0), rtol=1e-12)


@pytest.mark.parametrize(("sigma", "n"), [(0.0, 10), (-1.0, 10), (0.3, 1)])
def test_zero_phase_without_width_or_points_returns_a_copy(sigma: float, n: int) -> None:
    x, y = np.linspace(0.0, 1.0, n), np.arange(n, dtype=np.float64)

    smoothed = zero_phase(x, y, sigma)
    np.testing.assert_array_equal(smoothed, y)
    smoothed += 1.0

    np.testing.assert_array_equal(y, np.arange(n))
