"""The trial loop: claim trials within the study's budget, run each with a heartbeat, and
stop cleanly on a signal.

Every process runs this loop, whether ``lrtune study`` runs the trials itself or
``lrtune worker`` processes on many machines share them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from lrtune._optuna import (
    BaseHeartbeat,
    experimental_ok,
    forget_cached_trials,
    is_heartbeat_enabled,
    storage_of,
    trial_id_of,
)
from lrtune.storage import Database
from lrtune.study._gate import Claim, claim_trial, count_finished
from lrtune.study._signals import StopSignals, WorkerStopped
from lrtune.training import TrainingStopped

logger = logging.getLogger(__name__)

Callback = Callable[[optuna.Study, FrozenTrial], None]
Objective = Callable[[optuna.Trial], float]

POLL_S = 2.0
"""How often an idle worker looks again while the last trials run elsewhere."""
RETRY_WITHOUT_HEARTBEATS = 3
"""How many times a stopped trial is queued again on a storage without heartbeats (whose
stale-trial callback says how many times otherwise)."""


@dataclass(frozen=True)
class WorkerOutcome:
    """How a worker's loop ended.

    Args:
        trials: Trials this worker finished (complete or pruned).
        finished: The study's finished trials when the worker last looked.
        budget: The study's budget of finished trials.
        stopped_by: The signal that stopped the worker (``"SIGTERM"``), if one did.
        timed_out: Whether the worker stopped because its ``timeout`` passed.
    """

    trials: int
    finished: int
    budget: int
    stopped_by: str | None = None
    timed_out: bool = False


class StudyStopped(KeyboardInterrupt):
    """A signal stopped ``run_study``; the study continues from where it stood when run again.

    A ``KeyboardInterrupt``, so code that caught one before still does.

    Attributes:
        outcome: How the loop ended: trials finished here, the study's finished trials, the
            signal's name (``outcome.stopped_by``).
    """

    def __init__(self, outcome: WorkerOutcome) -> None:
        super().__init__(outcome.stopped_by)
        self.outcome = outcome


def run_trials(
    study: optuna.Study,
    objective: Objective,
    *,
    budget: int,
    callbacks: Sequence[Callback] = (),
    timeout: float | None = None,
    poll_s: float = POLL_S,
    database: Database | None = None,
) -> WorkerOutcome:
    """Run trials of ``study`` until it has ``budget`` finished ones, a signal, or timeout.

    ``database`` is the study's, for locks and counts (default: ``Database.around`` the
    study's storage).

    SIGTERM or SIGINT during a trial fails that trial and queues its configuration for
    retry before returning; the trial is never left RUNNING. An exception in the objective
    fails its trial and is raised.
    """
    started = time.monotonic()
    mine = 0
    database = database or Database.around(storage_of(study))
    with StopSignals() as signals:
        while True:
            if signals.received is not None:
                finished = count_finished(study, database)
                return WorkerOutcome(mine, finished, budget, stopped_by=signals.received)
            if timeout is not None and time.monotonic() - started > timeout:
                return WorkerOutcome(mine, count_finished(study, database), budget, timed_out=True)
            claim = claim_trial(study, budget, database)
            if claim.done(budget):
                return WorkerOutcome(mine, claim.finished, budget)
            if claim.trial_id is None:
                logger.info("waiting: %d trials still running elsewhere", claim.running)
                signals.sleep(poll_s)
                continue
            frozen = _run_one(study, claim, objective, signals)
            if frozen is None:
                continue
            mine += 1
            for callback in callbacks:
                callback(study, frozen)


def _run_one(
    study: optuna.Study, claim: Claim, objective: Objective, signals: StopSignals
) -> FrozenTrial | None:
    """Run one claimed trial; its frozen record once told, or None if it did not finish."""
    assert claim.trial_id is not None
    with ExitStack() as stack:
        # Beating before sampling: TPE over a large study takes a while.
        stack.enter_context(_Heartbeat(storage_of(study), claim.trial_id))
        # As Study.ask does: samplers read the study's trials through a per-trial cache,
        # which must start empty (tell empties it too; a claim may follow something else).
        forget_cached_trials(study)
        trial = optuna.Trial(study, claim.trial_id)
        if claim.retry_of is not None:
            trial.set_user_attr("retry_of", claim.retry_of)
        try:
            with signals.trial():
                value = objective(trial)
        except optuna.TrialPruned:
            return _tell(study, trial, state=TrialState.PRUNED)
        except UpdateFinishedTrialError:  # a report after the trial was failed as stale
            _lost_as_stale(trial.number)
            return None
        except (WorkerStopped, TrainingStopped) as stop:
            stack.close()  # no heartbeat for a trial about to be failed
            _fail_and_requeue(study, trial, str(stop))
            return None
        except Exception:
            _tell(study, trial, state=TrialState.FAIL)
            raise
    return _tell(study, trial, value=value)


def _tell(
    study: optuna.Study,
    trial: optuna.Trial,
    *,
    value: float | None = None,
    state: TrialState | None = None,
) -> FrozenTrial | None:
    """Tell ``trial``'s result; its record if it counts (complete or pruned), else None."""
    try:
        frozen = study.tell(trial, value, state=state, skip_if_finished=True)
    except UpdateFinishedTrialError:  # finished between Optuna's check and its write
        frozen = storage_of(study).get_trial(trial_id_of(trial))
    if frozen.state == TrialState.FAIL and state != TrialState.FAIL:
        _lost_as_stale(trial.number)
    return frozen if frozen.state in (TrialState.COMPLETE, TrialState.PRUNED) else None


def _lost_as_stale(number: int) -> None:
    # This worker could not reach the database for longer than the grace period, so
    # another worker failed the trial and queued it again; the retry runs elsewhere.
    logger.warning("trial #%d was failed as stale meanwhile and is retried; not counted", number)


def _fail_and_requeue(study: optuna.Study, trial: optuna.Trial, signal_name: str) -> None:
    if storage_of(study).get_trial(trial_id_of(trial)).state.is_finished():
        return  # failed as stale meanwhile, and queued again by whoever failed it
    trial.set_user_attr("stopped_by", signal_name)
    try:
        frozen = study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
    except UpdateFinishedTrialError:  # failed as stale after the look above
        return
    with experimental_ok():
        _requeue_callback(storage_of(study))(study, frozen)
    logger.warning("%s: trial #%d failed and queued for retry", signal_name, trial.number)


def _requeue_callback(storage: optuna.storages.BaseStorage) -> Callback:
    """How a stopped trial is queued again: as a stale one would be, with the same limit."""
    if isinstance(storage, BaseHeartbeat):
        callback = storage.get_heartbeat_stale_trial_callback()
        if callback is not None:
            return callback
    with experimental_ok():
        return RetryHeartbeatStaleTrialCallback(max_retry=RETRY_WITHOUT_HEARTBEATS)


class _Heartbeat:
    """Beats for one trial in a thread while the block runs, if the storage has heartbeats.

    A beat that cannot reach the database is retried by the storage; if the trial is
    failed as stale meanwhile, telling it later is refused and the worker goes on.
    """

    def __init__(self, storage: optuna.storages.BaseStorage, trial_id: int) -> None:
        self.storage = storage
        self.trial_id = trial_id
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> _Heartbeat:
        if is_heartbeat_enabled(self.storage):
            self._thread = threading.Thread(target=self._beat, daemon=True, name="heartbeat")
            self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _beat(self) -> None:
        assert isinstance(self.storage, BaseHeartbeat)
        interval = self.storage.get_heartbeat_interval() or 1
        while not self._stop.wait(interval):
            try:
                self.storage.record_heartbeat(self.trial_id)
            except Exception as error:
                logger.warning("heartbeat of trial %d failed: %s", self.trial_id, error)
