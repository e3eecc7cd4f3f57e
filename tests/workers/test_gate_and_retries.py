"""The pieces under the workers: retries on an unreachable database, heartbeat settings, the
PostgreSQL lock that serializes claims, and the check that replaces it without a lock."""

from __future__ import annotations

import sqlite3

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState
from sqlalchemy import exc

from lrtune import StorageError
from lrtune.storage import Database, Heartbeat, open_study_storage
from lrtune.storage import _resilient as resilient
from lrtune.storage._locks import LOCK_NAMESPACE, lock_key
from lrtune.study._gate import _beyond_budget, _give_back, claim_trial


def operational_error(message: str = "connection refused") -> exc.OperationalError:
    return exc.OperationalError("SELECT 1", {}, Exception(message))


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record the backoff delays instead of sleeping them; the clock moves on by each one,
    as it would have."""
    delays: list[float] = []
    monkeypatch.setattr(resilient.time, "sleep", delays.append)
    start = resilient.time.monotonic()
    monkeypatch.setattr(resilient.time, "monotonic", lambda: start + sum(delays))
    return delays


def test_a_call_is_retried_with_growing_delays_until_it_succeeds(no_sleep: list[float]) -> None:
    outcomes: list[Exception | str] = [operational_error()] * 4 + ["done"]

    def call() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert resilient.call_with_retries(call, "test") == "done"
    assert len(no_sleep) == 4
    # Each delay at least half its nominal value (jitter), nominal doubling from 0.25 s.
    for delay, nominal in zip(no_sleep, (0.25, 0.5, 1.0, 2.0), strict=True):
        assert nominal / 2 <= delay <= nominal


def test_an_error_that_is_not_about_the_connection_is_not_retried(no_sleep: list[float]) -> None:
    def call() -> None:
        raise exc.IntegrityError("INSERT", {}, Exception("duplicate key"))

    with pytest.raises(exc.IntegrityError):
        resilient.call_with_retries(call, "test")
    assert no_sleep == []


def test_an_unreachable_database_gives_up_with_one_line(no_sleep: list[float]) -> None:
    def call() -> None:
        raise optuna.exceptions.StorageInternalError("commit failed") from operational_error()

    with pytest.raises(StorageError) as raised:
        resilient.call_with_retries(call, "counting trials", timeout=3.0)
    message = str(raised.value)
    assert message == (
        "The database stayed unreachable for 3 s (counting trials): connection refused"
    )
    assert sum(no_sleep) <= 3.0


class _DriverError(Exception):
    """A driver's error with a SQLSTATE, as psycopg's carry one."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("driver_error", "transient"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("no such column: trials.trial_id"), False),
        (sqlite3.OperationalError("no such table: trials"), False),
        (_DriverError("server closed the connection unexpectedly", None), True),
        (_DriverError("terminating connection due to administrator command", "57P01"), True),
        (_DriverError("connection failure", "08006"), True),
        (_DriverError('column "trial_id" does not exist', "42703"), False),
        (_DriverError("canceling statement due to statement timeout", "57014"), False),
    ],
    ids=lambda value: str(value)[:30] if isinstance(value, Exception) else str(value),
)
def test_only_a_lost_or_refused_connection_or_a_locked_file_is_retried(
    driver_error: Exception, transient: bool
) -> None:
    error = exc.OperationalError("SELECT 1", {}, driver_error)
    assert resilient.is_transient(error) is transient
    wrapped = optuna.exceptions.StorageInternalError("query failed")
    wrapped.__cause__ = error
    assert resilient.is_transient(wrapped) is transient


@pytest.mark.parametrize(
    ("interval", "grace", "message"),
    [
        (0, 10, "heartbeat interval must be a positive integer"),
        (10, 10, "must be longer than the heartbeat interval"),
        (1.5, 10, "heartbeat interval must be a positive integer"),
    ],
)
def test_bad_heartbeat_settings_are_refused(interval: object, grace: int, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Heartbeat(interval, grace)  # type: ignore[arg-type]


@pytest.mark.postgres
def test_claims_on_postgresql_hold_the_studys_lock(postgres_url: str) -> None:
    """The lock is taken through the study's own storage (which Optuna wraps in a cache)."""
    study = optuna.create_study(storage=open_study_storage(postgres_url), study_name="s")
    key = lock_key("budget:s")
    other = sqlalchemy.create_engine(postgres_url.replace("postgresql:", "postgresql+psycopg:"))
    try:
        with other.connect() as connection:
            try_lock = sqlalchemy.text("SELECT pg_try_advisory_lock(:ns, :key)")
            unlock = sqlalchemy.text("SELECT pg_advisory_unlock(:ns, :key)")
            arguments = {"ns": LOCK_NAMESPACE, "key": key}
            with Database.around(study._storage).lock("budget:s") as locked:
                assert locked
                assert connection.execute(try_lock, arguments).scalar() is False
            assert connection.execute(try_lock, arguments).scalar() is True
            connection.execute(unlock, arguments)
    finally:
        other.dispose()


def test_without_a_lock_a_claim_beyond_the_budget_is_given_back() -> None:
    """Through the gRPC proxy two workers can claim the last place at once; the one whose
    trial is numbered later gives its trial back, re-queuing a queued configuration."""
    study = optuna.create_study()
    study.enqueue_trial({"x": 0.5}, user_attrs={"warm_start": True})
    first = claim_trial(study, budget=1)
    assert first.trial_id is not None
    # A second worker slipped in between this worker's count and its claim:
    late = study._storage.create_new_trial(study._study_id)
    assert not _beyond_budget(study, first.trial_id, budget=1)
    assert _beyond_budget(study, late, budget=1)
    _give_back(study, first.trial_id)  # as if the queued one had been claimed late
    trials = study.get_trials(deepcopy=False)
    assert trials[0].state == TrialState.FAIL
    assert trials[0].system_attrs["lrtune_beyond_budget"] is True
    requeued = [t for t in trials if t.state == TrialState.WAITING]
    assert len(requeued) == 1
    assert requeued[0].user_attrs == {"warm_start": True}
    assert requeued[0].system_attrs["fixed_params"] == {"x": 0.5}


def test_every_database_call_optunas_trial_cache_makes_is_retried() -> None:
    """A study wraps the storage in Optuna's cache, which calls some private methods of the
    storage directly: each must be retried, or a dropped connection ends the worker."""
    import inspect
    import re

    from optuna.storages import _cached_storage

    called = set(re.findall(r"self\._backend\.(\w+)", inspect.getsource(_cached_storage)))
    not_database_calls = {"get_heartbeat_interval", "get_heartbeat_stale_trial_callback"}
    never_by_a_worker = {"delete_study"}
    retried = set(resilient._RETRIED) | {"set_trial_state_values"}
    assert called - not_database_calls - never_by_a_worker <= retried
    for name in retried:
        assert getattr(resilient.ResilientRDBStorage, name) is not getattr(
            optuna.storages.RDBStorage, name
        ), name


@pytest.mark.postgres
def test_a_write_the_database_refuses_fails_at_once(
    postgres_url: str, no_sleep: list[float]
) -> None:
    """A refusal (here: a read-only transaction) is no outage: no retry, Optuna's error."""
    optuna.create_study(storage=open_study_storage(postgres_url), study_name="kept")
    read_only = f"{postgres_url}?options=-c%20default_transaction_read_only%3Don"
    storage = resilient.ResilientRDBStorage(read_only, skip_table_creation=True)
    try:
        with pytest.raises(optuna.exceptions.StorageInternalError) as refused:
            storage.create_new_study([optuna.study.StudyDirection.MINIMIZE], "refused")
        assert "read-only" in str(refused.value.__cause__)
        assert no_sleep == []
    finally:
        storage.engine.dispose()
