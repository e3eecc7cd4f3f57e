"""Heartbeats through ``lrtune storage-proxy``, which Optuna's gRPC protocol does not carry.

A worker on ``grpc://`` beats by setting its trial's system attribute ``lrtune_heartbeat``
(to its heartbeat interval), a call the proxy does carry (``GrpcHeartbeatStorage``). The
storage the proxy serves (``RelayedHeartbeats``) records that as the trial's heartbeat, in
Optuna's own heartbeat table, instead of writing an attribute. A thread in the proxy
(``StaleTrialSweeper``) looks every heartbeat interval for its workers' trials whose beats
stopped for the grace period, and fails each and queues it for retry, as a direct worker's
claim does under the study's lock.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import GrpcStorageProxy, RetryHeartbeatStaleTrialCallback
from optuna.trial import FrozenTrial, TrialState

from lrtune._optuna import (
    BaseHeartbeat,
    RemoteHeartbeat,
    backend_of,
    experimental_ok,
    stale_trial_ids,
    study_id_of,
    trial_id_of,
    with_trial_cache,
)
from lrtune.storage._heartbeat import Heartbeat

logger = logging.getLogger(__name__)

BEAT_KEY = "lrtune_heartbeat"
"""The system attribute a worker sets to beat through the proxy; never stored."""
MARK_KEY = "lrtune_proxy_heartbeat"
"""Stored on a trial that beat through a proxy: its own trial id (a retry copies its
original's attributes, so a copied mark names another trial and does not count)."""
WITHDRAWN_KEY = "lrtune_withdrawn"
"""Set on a retry withdrawn because its trial finished while it was being queued."""


class GrpcHeartbeatStorage(GrpcStorageProxy, RemoteHeartbeat):
    """Optuna's gRPC storage client, beating through the proxy (see the module's doc).

    Stale trials are judged by the proxy, so this reports none; a stopped trial is queued
    again with ``heartbeat.max_retry``, as on a database.
    """

    def __init__(self, *, host: str, port: int, heartbeat: Heartbeat) -> None:
        self.heartbeat = heartbeat
        super().__init__(host=host, port=port)

    def record_heartbeat(self, trial_id: int) -> None:
        self.set_trial_system_attr(trial_id, BEAT_KEY, self.heartbeat.interval)

    def get_heartbeat_interval(self) -> int:
        return self.heartbeat.interval

    def get_heartbeat_stale_trial_callback(self) -> Callable[[optuna.Study, FrozenTrial], None]:
        with experimental_ok():
            return RetryHeartbeatStaleTrialCallback(max_retry=self.heartbeat.max_retry)


class RelayedHeartbeats:
    """The storage ``lrtune storage-proxy`` serves: ``storage`` behind Optuna's trial cache
    (as ``optuna.storages.get_storage`` would serve it), except that a worker's beat is
    recorded as the trial's heartbeat.

    ``storage``: the database's, with heartbeats on (its grace period judges the beats).
    """

    def __init__(self, storage: optuna.storages.BaseStorage, heartbeat: Heartbeat) -> None:
        # The workers' writes, not the proxy's own: served as they come, never held.
        storage = backend_of(storage)
        if not isinstance(storage, optuna.storages.RDBStorage):
            raise TypeError(f"the proxy serves a database storage, not {type(storage).__name__}")
        self._served = with_trial_cache(storage)
        self._database = storage
        self._heartbeat = heartbeat
        self._marked: set[int] = set()
        self._warned: set[str] = set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._served, name)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        if key != BEAT_KEY:
            self._served.set_trial_system_attr(trial_id, key, value)
            return
        self._check_interval(value)
        self._database.record_heartbeat(trial_id)
        if trial_id not in self._marked:  # its first beat through this proxy
            self._database.set_trial_system_attr(trial_id, MARK_KEY, trial_id)
            self._marked.add(trial_id)

    def _check_interval(self, interval: object) -> None:
        too_long = not isinstance(interval, int) or interval >= self._heartbeat.grace
        if too_long and repr(interval) not in self._warned:
            self._warned.add(repr(interval))
            logger.warning(
                "a worker beats every %s s, but this proxy fails a trial after %d s without "
                "a heartbeat: give the workers a shorter --heartbeat-interval",
                interval,
                self._heartbeat.grace,
            )


class StaleTrialSweeper:
    """A thread that fails the proxy's workers' trials whose heartbeat stopped, and queues
    each for retry (``sweep``), every heartbeat interval until ``stop()``.

    ``storage``: the database's, with heartbeats on.
    """

    def __init__(self, storage: optuna.storages.BaseStorage, heartbeat: Heartbeat) -> None:
        self.storage = storage
        self.heartbeat = heartbeat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stale-trials")
        self._judge_from = 0.0

    def start(self) -> StaleTrialSweeper:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.heartbeat.interval):
            try:
                self.sweep()
            except Exception as error:  # the database away for long; looked at again later
                logger.warning("looking for stale trials failed: %s", error)

    def sweep(self) -> int:
        """Fail and queue again every stale trial of every study; how many were failed."""
        started = time.monotonic()
        stale = []
        for frozen in self.storage.get_all_studies():
            found = stale_trial_ids(self.storage, study_id_of(frozen))
            if found:
                stale.append((frozen.study_name, found))
        now = time.monotonic()
        if now - started > self.heartbeat.interval:
            # The database was slow or away, and the workers' beats waited too: judge none
            # until a grace period after it answers again.
            self._judge_from = now + self.heartbeat.grace
        if now < self._judge_from:
            return 0
        failed = 0
        for name, trial_ids in stale:
            with experimental_ok():
                study = optuna.load_study(study_name=name, storage=self.storage)
            failed += sum(self._retire(study, trial_id) for trial_id in trial_ids)
        return failed

    def _retire(self, study: optuna.Study, trial_id: int) -> bool:
        """Queue a stale trial's retry, then fail it; whether it was failed here.

        The retry is queued first: a worker that counts the study's trials in between
        still sees the stale one running, and once it is failed finds its retry queued,
        never room for a new trial while the retry is not yet there.
        """
        frozen = self.storage.get_trial(trial_id)
        if frozen.state != TrialState.RUNNING or frozen.system_attrs.get(MARK_KEY) != trial_id:
            return False  # finished meanwhile, or not beating through a proxy
        callback = self._callback()
        if callback is not None:
            with experimental_ok():
                callback(study, frozen)
        try:
            self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
        except UpdateFinishedTrialError:  # its worker told it, or another process failed it
            self._withdraw_retry(study, frozen.number)
            return False
        logger.warning(
            "trial #%d of study %r had no heartbeat for %d s: failed and queued for retry",
            frozen.number,
            study.study_name,
            self.heartbeat.grace,
        )
        return True

    def _callback(self) -> Callable[[optuna.Study, FrozenTrial], None] | None:
        assert isinstance(self.storage, BaseHeartbeat)
        return self.storage.get_heartbeat_stale_trial_callback()

    def _withdraw_retry(self, study: optuna.Study, number: int) -> None:
        """Fail the queued retry of trial ``number``, unless a worker has taken it."""
        waiting = self.storage.get_all_trials(
            study_id_of(study), deepcopy=False, states=(TrialState.WAITING,)
        )
        for trial in waiting:
            if trial.system_attrs.get("retry_history", [])[-1:] != [number]:
                continue
            trial_id = trial_id_of(trial)
            try:
                if self.storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                    self.storage.set_trial_system_attr(trial_id, WITHDRAWN_KEY, True)
                    self.storage.set_trial_state_values(trial_id, state=TrialState.FAIL)
            except UpdateFinishedTrialError:
                continue
