"""Pruners and samplers by name: the strings a spec or the CLI may use."""

from __future__ import annotations

import math
from collections.abc import Callable, Container
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import optuna
from optuna.distributions import BaseDistribution
from optuna.pruners import BasePruner, HyperbandPruner, MedianPruner, NopPruner
from optuna.samplers import BaseSampler, RandomSampler, TPESampler
from optuna.trial import TrialState

from lrtune._optuna import (
    cached_trials,
    experimental_ok,
    forget_cached_trials,
    set_cached_trials,
    storage_of,
    study_id_of,
)
from lrtune._registry import Registry

MEDIAN_STARTUP_TRIALS = 5
"""Trials the median pruner lets finish before it compares anything."""


@dataclass(frozen=True)
class StudySetup:
    """What a pruner or sampler is sized by."""

    epochs: int
    seed: int | None


PRUNERS: Registry[Callable[[StudySetup], BasePruner]] = Registry("pruner")
SAMPLERS: Registry[Callable[[StudySetup], BaseSampler]] = Registry("sampler")


@PRUNERS.register("median")
def _median(setup: StudySetup) -> BasePruner:
    return WarmupFirstMedianPruner(
        n_startup_trials=MEDIAN_STARTUP_TRIALS, n_warmup_steps=median_warmup_epochs(setup.epochs)
    )


class WarmupFirstMedianPruner(MedianPruner):
    """Optuna's median pruner, which says no during the warmup without reading the study.

    ``MedianPruner`` reads every completed trial at each report before it looks at the
    warmup: on a shared database that read is the largest part of a trial's storage time,
    and during the warmup its answer is no whatever the read returns.
    """

    def __init__(
        self,
        n_startup_trials: int = 5,
        n_warmup_steps: int = 0,
        interval_steps: int = 1,
        *,
        n_min_trials: int = 1,
    ) -> None:
        # MedianPruner's own arguments and defaults, so that it replaces one anywhere.
        super().__init__(
            n_startup_trials, n_warmup_steps, interval_steps, n_min_trials=n_min_trials
        )
        self.warmup_steps = n_warmup_steps

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        storage = storage_of(study)
        prefetch = getattr(storage, "prefetch_completed", None)
        if prefetch is not None:  # later reports read what this reads, in their round trip
            prefetch(study_id_of(study), self.warmup_steps)
        step = trial.last_step
        if step is None or step < self.warmup_steps:
            return False
        read = getattr(storage, "completed_at_step", None)
        if read is None:
            return super().prune(study, trial)
        completed, values = read(study_id_of(study), step)
        return super().prune(_CompletedAtStep(study, step, completed, values), trial)  # type: ignore[arg-type]


class _CompletedAtStep:
    """A study whose completed trials are only what a median pruner reads of them at one
    step, from one query (``BatchedStorage.completed_at_step``) instead of every trial."""

    def __init__(self, study: optuna.Study, step: int, completed: int, values: list[float]):
        self._study = study
        reported = [SimpleNamespace(intermediate_values={step: v}) for v in values]
        silent = [SimpleNamespace(intermediate_values={}) for _ in range(completed - len(values))]
        self._completed = reported + silent

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[Any]:
        if states != (TrialState.COMPLETE,):
            raise ValueError(f"only completed trials were read, not {states!r}")
        return self._completed


def median_warmup_epochs(epochs: int) -> int:
    """The first epoch the median pruner may prune at.

    Schedules differ most early on (a warmup, 1cycle's climb, a cycle's high point), so
    no trial is judged before a third of the run, and never on its first epoch.
    """
    return max(2, math.ceil(epochs / 3))


@PRUNERS.register("hyperband")
def _hyperband(setup: StudySetup) -> BasePruner:
    return HyperbandPruner(min_resource=1, max_resource=setup.epochs, reduction_factor=3)


@PRUNERS.register("none")
def _no_pruning(setup: StudySetup) -> BasePruner:
    return NopPruner()


@SAMPLERS.register("tpe")
def _tpe(setup: StudySetup) -> BaseSampler:
    # group=True splits the conditional space (each optimizer's and schedule's own
    # parameters) into the sub-spaces that occur together; both flags are experimental.
    with experimental_ok():
        return OneReadTPESampler(seed=setup.seed, multivariate=True, group=True)


class OneReadTPESampler(TPESampler):
    """Optuna's TPE, reading the study once per trial rather than once per sub-space.

    With ``constant_liar`` (on by default, so that workers running at once do not draw alike)
    TPE reads every trial afresh for each sub-space of the grouped space: a dozen reads per
    trial, most of a trial's storage time on a shared database. Here one fresh read, made
    as sampling starts (when the search space is inferred), serves the search space and
    every sub-space; the draws are the same.
    """

    def infer_relative_search_space(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> dict[str, BaseDistribution]:
        forget_cached_trials(study)  # fresh: running trials as of now
        read = getattr(storage_of(study), "trials_for_sampling", None)
        if read is not None:  # BatchedStorage: running trials' reports are not read again
            set_cached_trials(study, read(study_id_of(study)))
        return super().infer_relative_search_space(_CachedReads(study), trial)  # type: ignore[arg-type]

    def sample_relative(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        # The read made as the search space was inferred, a moment ago.
        return super().sample_relative(_CachedReads(study), trial, search_space)  # type: ignore[arg-type]


class _CachedReads:
    """A study whose trial reads all go through its per-trial cache."""

    def __init__(self, study: optuna.Study) -> None:
        self._study = study

    def __getattr__(self, name: str) -> Any:
        return getattr(self._study, name)

    def _get_trials(
        self,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
        use_cache: bool = False,
    ) -> list[optuna.trial.FrozenTrial]:
        return cached_trials(self._study, deepcopy=deepcopy, states=states)


@SAMPLERS.register("random")
def _random(setup: StudySetup) -> BaseSampler:
    return RandomSampler(seed=setup.seed)
