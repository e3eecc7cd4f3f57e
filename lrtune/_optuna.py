"""Using Optuna's experimental features on purpose."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import optuna


@contextmanager
def experimental_ok() -> Iterator[None]:
    """Run the block without Optuna's ``ExperimentalWarning``.

    lrtune relies on features Optuna marks experimental (heartbeats and the retry of stale
    trials, TPE's grouped search space, the gRPC proxy); the warning would repeat on every
    run without telling the user anything they could act on.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        yield
