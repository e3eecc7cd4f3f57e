"""Claiming trials so that a study's budget holds across any number of workers.

A worker claims its next trial under the study's lock: it fails the trials whose worker
went silent (queuing them for retry), counts finished and running trials, and only then
takes a queued trial or creates a new one. N workers on a budget of 40 finish exactly 40
trials: a worker never starts a trial that could take the study past its budget, and
waits instead while the trials still running might fail and need retrying.
"""

from __future__ import annotations

import functools
import logging
from collections import Counter
from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from lrtune._optuna import (
    BaseHeartbeat,
    experimental_ok,
    is_heartbeat_enabled,
    storage_of,
    study_id_of,
    trial_id_of,
)
from lrtune.storage import BatchedStorage, Census, Claiming, Database, lock_key

logger = logging.getLogger(__name__)

FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)
"""The trial states a study's budget counts."""

_COUNTED = (*FINISHED, TrialState.RUNNING)


@dataclass(frozen=True)
class Claim:
    """What a worker got when it asked for work.

    Args:
        trial_id: The claimed trial's storage id (None when there is nothing to start).
        finished: Trials finished (complete or pruned) when the claim was made.
        running: Trials running elsewhere when the claim was made.
        retry_of: The number of the trial the claimed one retries, if it is a retry.
    """

    trial_id: int | None
    finished: int
    running: int
    retry_of: int | None = None

    def done(self, budget: int) -> bool:
        return self.finished >= budget


def claim_trial(study: optuna.Study, budget: int, database: Database | None = None) -> Claim:
    """Claim the next trial of ``study`` if its budget allows one (see the module's doc).

    ``database``: the study's (default: ``Database.around`` the study's storage).
    """
    storage = storage_of(study)
    if isinstance(storage, BatchedStorage):
        return _claim_in_one_transaction(study, storage, budget)
    database = database or Database.around(storage)
    with database.lock(f"budget:{study.study_name}") as locked:
        fail_stale_trials(study)
        counts = database.count_states(study_id_of(study))
        finished, running = finished_of(counts), counts[TrialState.RUNNING]
        if finished + running >= budget:
            return Claim(None, finished, running)
        # Only when the count saw one: reading the queue reads every unfinished trial.
        queued = _pop_waiting(study) if counts[TrialState.WAITING] else None
        if queued is None:
            trial_id, retry_of = storage.create_new_trial(study_id_of(study)), None
        else:
            trial_id, retry_of = trial_id_of(queued), _retried_number(queued)
        if is_heartbeat_enabled(storage):
            # The first beat at once: a trial with none is never judged stale.
            assert isinstance(storage, BaseHeartbeat)
            storage.record_heartbeat(trial_id)
    if not locked and _beyond_budget(study, trial_id, budget):
        _give_back(study, trial_id)
        return Claim(None, finished, running + 1)
    return Claim(trial_id, finished, running, retry_of)


def _claim_in_one_transaction(study: optuna.Study, storage: BatchedStorage, budget: int) -> Claim:
    """``claim_trial`` on lrtune's own storage: one transaction of a few statements, which
    holds the study's lock until it commits (a worker that dies in it holds nothing)."""
    study_id, key = study_id_of(study), lock_key(f"budget:{study.study_name}")
    grace = storage.grace_period()
    for look_for_stale in (True, False):
        look = functools.partial(
            _count_then_take, study_id, budget, grace if look_for_stale else None
        )
        (census, taken), claiming = storage.claim(key, look)
        _warn_of_foreign(study, census.unbeaten)
        if taken is not None:
            break
        # Outside the transaction, then count again.
        fail_stale_trials(study)  # Optuna's own path
        if census.has_silent_foreign(grace) and grace is not None:
            _fail_silent_foreign(study, storage, grace)
    assert taken is not None  # the second look takes, whatever it finds
    claiming.adopt_created()
    if taken.retry_of == _QUEUED:
        assert taken.trial_id is not None
        queued = storage.get_trial(taken.trial_id)
        return Claim(taken.trial_id, taken.finished, taken.running, _retried_number(queued))
    return taken


def _warn_of_foreign(study: optuna.Study, unbeaten: int) -> None:
    """Say once per study that trials without heartbeats run: another kind of process."""
    seen = (id(storage_of(study)), study_id_of(study))
    if unbeaten and seen not in _WARNED:
        _WARNED.add(seen)
        logger.warning(
            "%d running trial(s) of study %r never sent a heartbeat: a process that is not "
            "an lrtune worker (a plain study.optimize?) writes to this study. lrtune's "
            "budget cannot hold its trials back, and a trial of it still running after the "
            "grace period is failed and queued again.",
            unbeaten,
            study.study_name,
        )


_WARNED: set[tuple[int, int]] = set()
"""(storage, study) pairs warned of already in this process."""


def _fail_silent_foreign(study: optuna.Study, storage: BatchedStorage, grace: float) -> None:
    """Fail the trials a foreign process left running without a heartbeat, and queue each
    again as a stale trial would be."""
    requeue = storage.get_heartbeat_stale_trial_callback()
    for trial_id in storage.silent_foreign(study_id_of(study), grace):
        try:
            failed = storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        except UpdateFinishedTrialError:
            continue  # finished meanwhile
        if not failed:
            continue
        frozen = storage.get_trial(trial_id)
        if requeue is not None:
            with experimental_ok():
                requeue(study, frozen)
        logger.warning(
            "trial #%d ran with no heartbeat past the grace period: failed, queued again",
            frozen.number,
        )


_QUEUED = -1
"""``Claim.retry_of`` of a trial taken from the queue, until its record is read."""


def _count_then_take(
    study_id: int, budget: int, grace: float | None, claiming: Claiming
) -> tuple[Census, Claim | None]:
    """Count the study's trials and take the next one; nothing if some trial is stale by
    ``grace`` (``None``: take whatever the count says), to be failed first."""
    census = claiming.census(study_id)
    if census.may_have_stale(grace) or census.has_silent_foreign(grace):
        return census, None
    return census, _take(claiming, Counter(census.counts), study_id, budget)


def _take(claiming: Claiming, counts: Counter[TrialState], study_id: int, budget: int) -> Claim:
    finished, running = finished_of(counts), counts[TrialState.RUNNING]
    if finished + running >= budget:
        return Claim(None, finished, running)
    queued = claiming.pop_waiting(study_id) if counts[TrialState.WAITING] else None
    trial_id = queued if queued is not None else claiming.create(study_id)
    if is_heartbeat_enabled(claiming.storage):
        claiming.beat(trial_id)  # the first beat at once: a trial with none is never stale
    return Claim(trial_id, finished, running, None if queued is None else _QUEUED)


def _beyond_budget(study: optuna.Study, trial_id: int, budget: int) -> bool:
    """Whether workers that claimed at the same moment took the budget before this trial.

    Without a lock (the gRPC proxy) two workers may both see room for one more trial.
    Trial numbers order their claims: the later one counts the earlier as running.
    """
    number = storage_of(study).get_trial(trial_id).number
    trials = storage_of(study).get_all_trials(study_id_of(study), deepcopy=False, states=_COUNTED)
    return sum(1 for t in trials if t.number < number) >= budget


def _give_back(study: optuna.Study, trial_id: int) -> None:
    """Fail a trial claimed beyond the budget, queuing it again if it was a queued one."""
    storage = storage_of(study)
    frozen = storage.get_trial(trial_id)
    storage.set_trial_system_attr(trial_id, "lrtune_beyond_budget", True)
    storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
    if frozen.system_attrs.get("fixed_params") or "failed_trial" in frozen.system_attrs:
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                params=frozen.params,
                distributions=frozen.distributions,
                user_attrs=frozen.user_attrs,
                system_attrs=frozen.system_attrs,
            )
        )


def fail_stale_trials(study: optuna.Study) -> None:
    """Fail the running trials whose heartbeat stopped, and queue each for retry."""
    with experimental_ok():
        optuna.storages.fail_stale_trials(study)


def count_finished(study: optuna.Study, database: Database | None = None) -> int:
    """How many trials of ``study`` count towards its budget (complete or pruned)."""
    database = database or Database.around(storage_of(study))
    return finished_of(database.count_states(study_id_of(study)))


def finished_of(counts: Counter[TrialState]) -> int:
    return sum(counts[state] for state in FINISHED)


def _pop_waiting(study: optuna.Study) -> FrozenTrial | None:
    """Take the oldest queued trial (a warm start or a retry), as ``Study.ask`` would."""
    storage = storage_of(study)
    for trial in storage.get_all_trials(
        study_id_of(study), deepcopy=False, states=(TrialState.WAITING,)
    ):
        try:
            if storage.set_trial_state_values(trial_id_of(trial), state=TrialState.RUNNING):
                return trial
        except UpdateFinishedTrialError:
            continue
    return None


def _retried_number(trial: FrozenTrial) -> int | None:
    """The trial a queued one retries (queued again after its worker died or stopped)."""
    with experimental_ok():
        return RetryHeartbeatStaleTrialCallback.retried_trial_number(trial)
