"""Every use lrtune makes of Optuna's private API, in one place.

Each accessor names why public API does not do: the budget gate and the worker loop need a
study's storage and ids (``Study`` has no public getter for either), the sampler reads
through the study's per-trial cache, heartbeats use Optuna's own heartbeat protocol, the
read-only storage selects from Optuna's tables, and the proxy serves Optuna's own gRPC
service. ``tests/test_optuna_private.py`` checks that the pinned Optuna still has each name;
an upgrade that breaks one fails there, not in a worker.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Container, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import TYPE_CHECKING, Any

import optuna
from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.study._frozen import FrozenStudy
    from optuna.trial import FrozenTrial, TrialState

RDB_PRIVATE_METHODS = (
    "_create_new_trial",
    "_set_trial_param",
    "_get_trials",
    "_get_best_trial_id",
    "_get_stale_trial_ids",
)
"""``RDBStorage``'s private methods that its public ones and Optuna's trial cache call: the
ones a storage must wrap to retry every database call."""


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


def storage_of(study: optuna.Study) -> optuna.storages.BaseStorage:
    """The storage a study reads and writes through (Optuna's trial cache over the backend)."""
    return study._storage


def backend_of(storage: optuna.storages.BaseStorage) -> optuna.storages.BaseStorage:
    """The storage beneath Optuna's trial cache, or ``storage`` itself if it has none."""
    return getattr(storage, "_backend", storage)


def with_trial_cache(backend: optuna.storages.RDBStorage) -> optuna.storages.BaseStorage:
    """``backend`` behind Optuna's trial cache, as ``optuna.storages.get_storage`` wraps an
    ``RDBStorage`` (done by hand for a subclass it would not recognize from a URL)."""
    return optuna.storages._CachedStorage(backend)


def cached_storage_class() -> type[optuna.storages.BaseStorage]:
    """Optuna's trial cache over an RDB storage, to subclass (``BatchedStorage``)."""
    return optuna.storages._CachedStorage


def cache_trial(storage: optuna.storages.BaseStorage, study_id: int, trial: FrozenTrial) -> None:
    """Put a trial made outside Optuna's trial cache into it, as its ``create_new_trial``
    would: its later writes look the trial up there."""
    from optuna.storages._cached_storage import _StudyInfo

    with storage._lock:  # type: ignore[attr-defined]
        storage._studies.setdefault(study_id, _StudyInfo())  # type: ignore[attr-defined]
        storage._add_trials_to_cache(study_id, [trial])  # type: ignore[attr-defined]


def refresh_trial_cache(
    storage: optuna.storages.BaseStorage,
    study_id: int,
    read: Callable[[set[int], int, dict[int, FrozenTrial]], list[FrozenTrial]],
) -> list[FrozenTrial]:
    """Bring a trial cache's copy of a study up to date as its ``get_all_trials`` does, with
    ``read(unfinished trial ids, last finished trial id, cached trials by id)`` in place of
    its backend's read; the study's cached trials, sorted by number, not copied.

    ``read`` returns what the backend's ``_get_trials`` would (trials unfinished when last
    read, and every newer one), less any it leaves to its cached copy.
    """
    from optuna.storages._cached_storage import _StudyInfo

    with storage._lock:  # type: ignore[attr-defined]
        study = storage._studies.setdefault(study_id, _StudyInfo())  # type: ignore[attr-defined]
        cached = {trial._trial_id: trial for trial in study.trials.values()}
        trials = read(set(study.unfinished_trial_ids), study.last_finished_trial_id, cached)
        storage._add_trials_to_cache(study_id, trials)  # type: ignore[attr-defined]
        for trial in trials:  # as _CachedStorage._read_trials_from_remote_storage
            if not trial.state.is_finished():
                study.unfinished_trial_ids.add(trial._trial_id)
                continue
            study.last_finished_trial_id = max(study.last_finished_trial_id, trial._trial_id)
            study.unfinished_trial_ids.discard(trial._trial_id)
        return sorted(study.trials.values(), key=lambda trial: trial.number)


def known_distribution(
    storage: optuna.storages.BaseStorage, study_id: int, name: str
) -> BaseDistribution | None:
    """The distribution a trial cache knows parameter ``name`` of the study by, if any."""
    with storage._lock:  # type: ignore[attr-defined]
        return storage._studies[study_id].param_distribution.get(name)  # type: ignore[attr-defined]


def remember_distributions(
    storage: optuna.storages.BaseStorage, study_id: int, known: dict[str, BaseDistribution]
) -> None:
    """Tell a trial cache the parameters' distributions (so that it checks new ones without
    reading), as its ``set_trial_param`` would."""
    with storage._lock:  # type: ignore[attr-defined]
        cache = storage._studies[study_id].param_distribution  # type: ignore[attr-defined]
        for name, distribution in known.items():
            cache.setdefault(name, distribution)


def study_id_of(study: optuna.Study | FrozenStudy) -> int:
    """A study's id in its storage."""
    return study._study_id


def trial_id_of(trial: optuna.Trial | FrozenTrial) -> int:
    """A trial's id in its storage (``number`` counts within the study; this does not)."""
    return trial._trial_id


def forget_cached_trials(study: optuna.Study) -> None:
    """Make the study's next trial read go to the storage, not its per-thread cache."""
    study._thread_local.cached_all_trials = None


def set_cached_trials(study: optuna.Study, trials: list[FrozenTrial]) -> None:
    """Make ``trials`` what the study's per-thread cache answers until it is forgotten."""
    study._thread_local.cached_all_trials = trials


def cached_trials(
    study: optuna.Study, *, deepcopy: bool, states: Container[TrialState] | None
) -> list[FrozenTrial]:
    """The study's trials through its per-thread cache (one read per sampled trial)."""
    return study._get_trials(deepcopy=deepcopy, states=states, use_cache=True)


def rdb_models() -> ModuleType:
    """Optuna's SQLAlchemy models: the tables a read-only storage selects from."""
    from optuna.storages._rdb import models

    return models


def stale_trial_ids(storage: optuna.storages.BaseStorage, study_id: int) -> list[int]:
    """The running trials of a study whose heartbeat stopped for the storage's grace period:
    what ``optuna.storages.fail_stale_trials`` fails (Optuna names the query privately)."""
    if not is_heartbeat_enabled(storage):
        return []
    assert isinstance(storage, BaseHeartbeat)
    return storage._get_stale_trial_ids(study_id)


class RemoteHeartbeat(BaseHeartbeat):
    """Heartbeats that another process judges (``lrtune storage-proxy``): a storage with
    these records beats, and reports no stale trials to its own process (Optuna's protocol
    names that query privately)."""

    def _get_stale_trial_ids(self, study_id: int) -> list[int]:
        return []


def grpc_service() -> tuple[ModuleType, Any]:
    """Optuna's gRPC proxy: its generated module and its servicer class."""
    from optuna.storages._grpc.auto_generated import api_pb2_grpc
    from optuna.storages._grpc.servicer import OptunaStorageProxyService

    return api_pb2_grpc, OptunaStorageProxyService


__all__ = [
    "RDB_PRIVATE_METHODS",
    "BaseHeartbeat",
    "RemoteHeartbeat",
    "backend_of",
    "cache_trial",
    "cached_storage_class",
    "cached_trials",
    "experimental_ok",
    "forget_cached_trials",
    "grpc_service",
    "is_heartbeat_enabled",
    "known_distribution",
    "rdb_models",
    "refresh_trial_cache",
    "remember_distributions",
    "set_cached_trials",
    "stale_trial_ids",
    "storage_of",
    "study_id_of",
    "trial_id_of",
    "with_trial_cache",
]
