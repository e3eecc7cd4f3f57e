"""Figures are drawn off screen; one small real study serves every report test."""

from __future__ import annotations

from collections.abc import Callable

import matplotlib
import optuna
import pytest

from lrtune.study import run_study

matplotlib.use("Agg")


def make_real_study() -> optuna.Study:
    """Six short trials of digits-mlp in memory (a few seconds)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return run_study(
        "digits-mlp",
        n_trials=6,
        epochs=2,
        storage=optuna.storages.InMemoryStorage(),
        optimizers=["adamw", "sgd"],
        schedules=["constant", "cosine", "onecycle"],
        seed=0,
    )


@pytest.fixture(scope="session")
def real_study() -> optuna.Study:
    """Shared by the tests that only read it."""
    return make_real_study()


@pytest.fixture(scope="session")
def study_factory() -> Callable[[], optuna.Study]:
    """For tests that add trials of their own to a fresh study."""
    return make_real_study
