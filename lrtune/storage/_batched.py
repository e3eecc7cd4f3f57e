"""``BatchedStorage``: Optuna's trial cache over lrtune's database, writing a trial's values
in a few transactions instead of one per value.

Optuna's ``RDBStorage`` commits each parameter, attribute and reported value on its own,
with several statements each; a 10-epoch trial made about 140 statements. This storage
keeps Optuna's contract for its trial cache (``_CachedStorage`` in Optuna's storages: "any
preceding writes on any attributes of Trial are guaranteed to be written into a
persistent storage before writes on state of Trial succeed") and uses it:

- A trial's parameters and user and system attributes, set while this process runs it,
  are held until its next reported value, its end, an explicit ``flush``, or a read, then
  written together in one transaction.
- A reported value is one statement that also checks that the trial still runs; on
  PostgreSQL it is its own transaction, as are a heartbeat and the pruner's read
  (``statement_alone``: no round trips to begin and end a transaction block).
- The trial's end writes what is held, its values and its state in one transaction.
- The process knows the record of a trial it claimed and runs (``claiming``), so reading
  it costs nothing; reading every trial takes two statements (``_trial_sql.read_trials``).
- A pruner can ask for the values completed trials reported at one step in one statement
  (``completed_at_step``).

Every row is Optuna's own, so ``optuna.load_study`` and optuna-dashboard read the study as
any other. Writes from trials of other processes are never held.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Callable, Container, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import optuna
from optuna import distributions
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import FrozenTrial, TrialState
from sqlalchemy import text
from sqlalchemy.engine import Connection

from lrtune._optuna import (
    cache_trial,
    cached_storage_class,
    known_distribution,
    refresh_trial_cache,
    remember_distributions,
    storage_of,
    trial_id_of,
)
from lrtune.storage import _trial_sql as sql
from lrtune.storage._locks import LOCK_NAMESPACE
from lrtune.storage._resilient import ResilientRDBStorage, call_with_retries

T = TypeVar("T")

CLAIM_IDLE_S = 60.0
"""How long a claim's transaction may sit idle before the server ends it, without heartbeats."""
_LOCK_FOR_CLAIM = text(
    "SELECT set_config('idle_in_transaction_session_timeout', :idle, true), "
    "pg_advisory_xact_lock(:ns, :key)"
)

_CachedStorage: Any = cached_storage_class()


@dataclass
class _Held:
    """What a running trial has set and this process has not yet written."""

    params: dict[str, tuple[float, distributions.BaseDistribution]] = field(default_factory=dict)
    user_attrs: dict[str, Any] = field(default_factory=dict)
    system_attrs: dict[str, Any] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.params or self.user_attrs or self.system_attrs)


class BatchedStorage(_CachedStorage):
    """Optuna's trial cache over ``backend``, with a trial's writes batched (module doc).

    Args:
        backend: lrtune's RDB storage (retried calls, heartbeats).
    """

    def __init__(self, backend: ResilientRDBStorage) -> None:
        super().__init__(backend)
        self.backend = backend
        self.engine = backend.engine
        self._held: dict[int, _Held] = {}
        self._own: dict[int, FrozenTrial] = {}  # trials this process claimed and runs
        self._own_study: dict[int, int] = {}
        # Per study, the first step whose reports also read the completed trials' values
        # at that step, and what the last such report read, for the pruner (``prefetch_completed``).
        self._prefetch_from: dict[int, int] = {}
        self._prefetched: dict[tuple[int, int], tuple[int, list[float]]] = {}
        self._guard = threading.RLock()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        del state["_guard"], state["engine"]  # the backend pickles without its engine
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        self.engine = self.backend.engine
        self._guard = threading.RLock()

    # --- transactions ---------------------------------------------------------------------

    def _transaction(self, work: Callable[[Connection], T], what: str) -> T:
        """``work`` in one transaction, retried while the database is unreachable."""

        def attempt() -> T:
            with self.engine.begin() as connection:
                return work(connection)

        return call_with_retries(attempt, what, self.backend.reconnect_s)

    def _alone_statement(self, work: Callable[[Connection], T], what: str) -> T:
        """``work``, one statement, as its own transaction (``statement_alone``: no round
        trips to begin and end a transaction block on PostgreSQL), retried while the
        database is unreachable."""

        def attempt() -> T:
            with sql.statement_alone(self.engine) as connection:
                return work(connection)

        return call_with_retries(attempt, what, self.backend.reconnect_s)

    # --- trials this process runs ----------------------------------------------------------

    def adopt(self, study_id: int, trial_id: int, number: int, start: Any) -> None:
        """Run a trial just claimed (``claiming``: running, with nothing set yet) as this
        process's: its writes are held and batched, and its record is known here.

        Only claimed trials are: a trial made any other way (``Study.ask``) is read and
        written as Optuna's trial cache does, each write at once.
        """
        frozen = FrozenTrial(
            number=number,
            state=TrialState.RUNNING,
            value=None,
            values=None,
            datetime_start=sql._local(start),
            datetime_complete=None,
            params={},
            distributions={},
            user_attrs={},
            system_attrs={},
            intermediate_values={},
            trial_id=trial_id,
        )
        cache_trial(self, study_id, copy.deepcopy(frozen))
        with self._guard:
            for finished in [t for t, f in self._own.items() if f.state.is_finished()]:
                self._forget(finished)
            self._own[trial_id] = frozen
            self._own_study[trial_id] = study_id

    def _forget(self, trial_id: int) -> None:
        self._own.pop(trial_id, None)
        self._own_study.pop(trial_id, None)
        self._held.pop(trial_id, None)

    def _owned(self, trial_id: int) -> FrozenTrial | None:
        with self._guard:
            frozen = self._own.get(trial_id)
            return frozen if frozen is not None and frozen.state == TrialState.RUNNING else None

    def set_trial_param(
        self,
        trial_id: int,
        param_name: str,
        param_value_internal: float,
        distribution: distributions.BaseDistribution,
    ) -> None:
        frozen = self._owned(trial_id)
        if frozen is None:
            super().set_trial_param(trial_id, param_name, param_value_internal, distribution)
            return
        study_id = self._own_study[trial_id]
        known = self._known_distribution(study_id, param_name) or self._held_elsewhere(
            study_id, param_name
        )
        if known is not None:
            distributions.check_distribution_compatibility(known, distribution)
        with self._guard:
            self._held.setdefault(trial_id, _Held()).params[param_name] = (
                param_value_internal,
                distribution,
            )
            frozen.params[param_name] = distribution.to_external_repr(param_value_internal)
            frozen.distributions[param_name] = distribution

    def _held_elsewhere(self, study_id: int, name: str) -> distributions.BaseDistribution | None:
        """The distribution of parameter ``name`` that another trial of this process holds,
        not yet written, in the same study (two trials run at once in one process)."""
        with self._guard:
            for trial_id, held in self._held.items():
                if self._own_study.get(trial_id) == study_id and name in held.params:
                    return held.params[name][1]
        return None

    def _known_distribution(
        self, study_id: int, name: str
    ) -> distributions.BaseDistribution | None:
        return known_distribution(self, study_id, name)

    def set_trial_user_attr(self, trial_id: int, key: str, value: Any) -> None:
        if not self._hold(trial_id, key, value, system=False):
            super().set_trial_user_attr(trial_id, key, value)

    def set_trial_system_attr(self, trial_id: int, key: str, value: Any) -> None:
        if not self._hold(trial_id, key, value, system=True):
            super().set_trial_system_attr(trial_id, key, value)

    def _hold(self, trial_id: int, key: str, value: Any, *, system: bool) -> bool:
        frozen = self._owned(trial_id)
        if frozen is None:
            return False
        value = copy.deepcopy(value)
        with self._guard:
            held = self._held.setdefault(trial_id, _Held())
            (held.system_attrs if system else held.user_attrs)[key] = value
            (frozen.system_attrs if system else frozen.user_attrs)[key] = value
        return True

    def flush(self, trial_id: int) -> None:
        """Write what the trial holds now, in one transaction (nothing if it holds nothing)."""
        with self._guard:
            held = self._held.pop(trial_id, None)
        if not held:
            return

        def work(connection: Connection) -> None:
            self._check_running(connection, trial_id)
            self._write_held(connection, trial_id, held)

        self._transaction(work, "writing a trial's parameters and attributes")

    def _check_running(self, connection: Connection, trial_id: int) -> None:
        state = sql.lock_running(connection, trial_id)
        if state is None:
            raise KeyError(f"No trial with trial_id {trial_id} exists.")
        if state.is_finished():
            self._lost(trial_id)

    def _lost(self, trial_id: int) -> None:
        """The trial was finished elsewhere (failed as stale): say so as Optuna does."""
        with self._guard:
            frozen = self._own.get(trial_id)
            self._forget(trial_id)
        number = frozen.number if frozen is not None else trial_id
        raise UpdateFinishedTrialError(
            f"Trial#{number} has already finished and can not be updated."
        )

    def _write_held(self, connection: Connection, trial_id: int, held: _Held) -> None:
        study_id = self._own_study[trial_id]
        unknown = [n for n in held.params if self._known_distribution(study_id, n) is None]
        stored = sql.stored_distributions(connection, study_id, unknown)
        for name, before in stored.items():
            distributions.check_distribution_compatibility(before, held.params[name][1])
        sql.write_params(connection, trial_id, held.params)
        sql.write_attrs(connection, trial_id, held.system_attrs, system=True)
        sql.write_attrs(connection, trial_id, held.user_attrs, system=False)
        remember_distributions(self, study_id, {n: d for n, (_, d) in held.params.items()})

    def set_trial_intermediate_value(
        self, trial_id: int, step: int, intermediate_value: float
    ) -> None:
        frozen = self._owned(trial_id)
        if frozen is None:
            super().set_trial_intermediate_value(trial_id, step, intermediate_value)
            return
        with self._guard:
            held = self._held.pop(trial_id, None)
            study_id = self._own_study[trial_id]
            prefetch = step >= self._prefetch_from.get(study_id, step + 1)

        def work(connection: Connection) -> bool:
            if held:
                self._check_running(connection, trial_id)
                self._write_held(connection, trial_id, held)
            # Committed lazily unless it carries what the trial held (``_commit_lazily``).
            durable = bool(held)
            if not prefetch:
                return sql.write_intermediate(
                    connection,
                    trial_id,
                    step,
                    intermediate_value,
                    checked=durable,
                    wait_for_disk=durable,
                )
            written, completed = sql.report_and_read_completed(
                connection, study_id, trial_id, step, intermediate_value, wait_for_disk=durable
            )
            with self._guard:
                self._prefetched[study_id, step] = completed
            return written

        run = self._transaction if held else self._alone_statement  # else one statement
        if not run(work, "set_trial_intermediate_value"):
            self._lost(trial_id)
        with self._guard:
            frozen.intermediate_values[step] = intermediate_value

    def set_trial_state_values(
        self, trial_id: int, state: TrialState, values: Sequence[float] | None = None
    ) -> bool:
        frozen = self._owned(trial_id)
        if frozen is None or not state.is_finished():
            if frozen is not None:
                self.flush(trial_id)
            return super().set_trial_state_values(trial_id, state=state, values=values)
        with self._guard:
            held = self._held.pop(trial_id, None) or _Held()
        attempts = 0

        def work(connection: Connection) -> bool:
            nonlocal attempts
            attempts += 1
            if not sql.finish(connection, trial_id, state, values):
                # A retry after a commit whose reply was lost finds its own write done.
                return attempts > 1 and sql.lock_running(connection, trial_id) == state
            self._write_held(connection, trial_id, held)
            return True

        if not self._transaction(work, "set_trial_state_values"):
            self._lost(trial_id)
        with self._guard:
            frozen.state = state
            frozen.values = None if values is None else list(values)
            frozen.datetime_complete = sql._local(sql.utc_now())
        return True

    def get_trial(self, trial_id: int) -> FrozenTrial:
        with self._guard:
            frozen = self._own.get(trial_id)
            if frozen is not None:
                return copy.deepcopy(frozen)
        return super().get_trial(trial_id)

    def get_all_trials(
        self,
        study_id: int,
        deepcopy: bool = True,
        states: Container[TrialState] | None = None,
    ) -> list[FrozenTrial]:
        self._flush_all_held()
        return super().get_all_trials(study_id, deepcopy=deepcopy, states=states)

    def _flush_all_held(self) -> None:
        with self._guard:
            holding = [t for t, held in self._held.items() if held]
        for trial_id in holding:  # this process reads its own writes
            self.flush(trial_id)

    def trials_for_sampling(self, study_id: int) -> list[FrozenTrial]:
        """The study's trials as ``get_all_trials(study_id, deepcopy=False)`` gives them,
        for a sampler, whose read does not grow with what running trials report.

        A trial of another process that was running with parameters and a reported value
        when last read, and still runs, is not read again: a sampler uses only the state and
        the parameters of a running trial, and an objective sets its parameters before it
        reports. Its attributes and reported values stay as last read, in what this returns
        only: the cache still rereads it for ``get_all_trials``.
        """
        self._flush_all_held()

        def read(
            unfinished: set[int], last: int, cached: dict[int, FrozenTrial]
        ) -> list[FrozenTrial]:
            with self._guard:
                own = set(self._own)
            settled = {i for i in unfinished - own if _settled(cached.get(i))}
            # Those of ``settled`` that still run are left out, to their cached copies.
            return self.backend.read_trials_but_settled(study_id, unfinished, last, settled)

        return refresh_trial_cache(self, study_id, read)

    def record_heartbeat(self, trial_id: int) -> None:
        beat = functools.partial(sql.beat, trial_id=trial_id, wait_for_disk=False)
        self._alone_statement(beat, "record_heartbeat")

    # --- reads for pruners and claims ------------------------------------------------------

    def completed_at_step(self, study_id: int, step: int) -> tuple[int, list[float]]:
        """How many trials are complete, and what they reported at ``step``: what this
        process's last report at ``step`` read with its write (``prefetch_completed``), else
        one statement."""
        with self._guard:
            prefetched = self._prefetched.pop((study_id, step), None)
        if prefetched is not None:
            return prefetched

        read = functools.partial(sql.completed_at_step, study_id=study_id, step=step)
        return self._alone_statement(read, "reading completed trials")

    def prefetch_completed(self, study_id: int, from_step: int) -> None:
        """Have every report of this process's trials from ``from_step`` on read, in its own
        round trip, what ``completed_at_step`` answers next at that step: a pruner that reads
        after each report then costs no round trip of its own."""
        with self._guard:
            self._prefetch_from[study_id] = from_step

    def silent_foreign(self, study_id: int, grace_s: float) -> list[int]:
        """Running trials that never beat and started over ``grace_s`` ago: made by a process
        that is not an lrtune worker, which may have died (``_trial_sql.silent_foreign``)."""

        read = functools.partial(sql.silent_foreign, study_id=study_id, grace_s=grace_s)
        return self._alone_statement(read, "reading silent trials")

    def claim(self, lock_key: int, work: Callable[[Claiming], T]) -> tuple[T, Claiming]:
        """``work`` inside ``claiming``, the whole transaction run again while the database
        is unreachable (a failed attempt was rolled back); its result and its steps."""

        def attempt() -> tuple[T, Claiming]:
            with self.claiming(lock_key) as claiming:
                return work(claiming), claiming

        return call_with_retries(attempt, "claiming a trial", self.backend.reconnect_s)

    @contextlib.contextmanager
    def claiming(self, lock_key: int) -> Iterator[Claiming]:
        """One transaction in which a worker counts, takes and beats its next trial, holding
        the study's advisory lock (PostgreSQL) until it commits.

        A worker frozen inside it (SIGSTOP, a lost host) holds the lock only until the
        server ends its idle transaction, after the heartbeat grace period (or
        ``CLAIM_IDLE_S``): the others then go on, and the half-made claim is rolled back.
        """
        with self.engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                idle_ms = int(1000 * (self.grace_period() or CLAIM_IDLE_S))
                connection.execute(
                    _LOCK_FOR_CLAIM, {"ns": LOCK_NAMESPACE, "key": lock_key, "idle": str(idle_ms)}
                )
            yield Claiming(self, connection)

    def grace_period(self) -> float | None:
        """The heartbeat grace period after which a running trial is failed as stale."""
        interval = self.backend.get_heartbeat_interval()
        if interval is None:
            return None
        return self.backend.grace_period or 2 * interval


class Claiming:
    """The claim transaction's steps (``BatchedStorage.claiming``), on its connection."""

    def __init__(self, storage: BatchedStorage, connection: Connection) -> None:
        self.storage = storage
        self.connection = connection
        self._created: tuple[int, int, int, Any] | None = None

    def census(self, study_id: int) -> sql.Census:
        """Lock the study's row and count its trials (``_trial_sql.census``)."""
        found = sql.census(self.connection, study_id)
        if found is None:
            raise KeyError(f"No study with study_id {study_id} exists.")
        return found

    def pop_waiting(self, study_id: int) -> int | None:
        return sql.pop_waiting(self.connection, study_id, sql.utc_now())

    def create(self, study_id: int) -> int:
        start = sql.utc_now()
        trial_id, number = sql.create_trial(self.connection, study_id, start)
        self._created = (study_id, trial_id, number, start)
        return trial_id

    def beat(self, trial_id: int) -> None:
        sql.beat(self.connection, trial_id)

    def adopt_created(self) -> None:
        """After the commit: the created trial is this process's to run."""
        if self._created is not None:
            self.storage.adopt(*self._created)


def write_held(trial: optuna.Trial) -> None:
    """Write now what ``trial`` holds (its parameters and attributes so far), if its storage
    holds writes: other workers' samplers then see its parameters while it trains."""
    storage = storage_of(trial.study)
    if isinstance(storage, BatchedStorage):
        storage.flush(trial_id_of(trial))


def _settled(trial: FrozenTrial | None) -> bool:
    """Whether a cached trial has all a sampler reads of it while it runs (its parameters)."""
    return (
        trial is not None
        and trial.state == TrialState.RUNNING
        and bool(trial.params)
        and bool(trial.intermediate_values)
    )
