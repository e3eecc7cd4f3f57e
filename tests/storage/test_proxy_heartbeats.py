"""The proxy's side of heartbeats: a worker's beat is recorded, not stored as an attribute,
and only its workers' silent trials are failed, each retry queued before the failure."""

from __future__ import annotations

from collections.abc import Iterator

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from lrtune._optuna import experimental_ok, storage_of, study_id_of
from lrtune.storage import Database, Heartbeat
from lrtune.storage._proxy_heartbeats import (
    BEAT_KEY,
    MARK_KEY,
    WITHDRAWN_KEY,
    RelayedHeartbeats,
    StaleTrialSweeper,
)

HEARTBEAT = Heartbeat(interval=1, grace=2)


@pytest.fixture
def database(storage_url: str) -> Iterator[Database]:
    with Database.open(storage_url, heartbeat=HEARTBEAT) as opened:
        yield opened


@pytest.fixture
def study(database: Database) -> optuna.Study:
    with experimental_ok():
        return optuna.create_study(storage=database.studies, study_name="beats")


def running_trial(study: optuna.Study, x: float) -> int:
    """A running trial with a parameter, as a worker's would be after sampling."""
    trial_id = storage_of(study).create_new_trial(study_id_of(study))
    optuna.Trial(study, trial_id).suggest_float("x", x, x)
    return trial_id


def silence(database: Database) -> None:
    """Every heartbeat an hour old."""
    assert database.engine is not None
    older = {
        "sqlite": "datetime(heartbeat, '-1 hour')",
        "postgresql": "heartbeat - interval '1 hour'",
    }[database.engine.dialect.name]
    with database.engine.begin() as connection:
        connection.execute(sqlalchemy.text(f"UPDATE trial_heartbeats SET heartbeat = {older}"))


def test_a_beat_is_recorded_as_a_heartbeat_and_marks_its_trial(
    database: Database, study: optuna.Study
) -> None:
    relay = RelayedHeartbeats(database.studies, HEARTBEAT)
    trial_id = running_trial(study, 0.5)
    relay.set_trial_system_attr(trial_id, BEAT_KEY, 1)
    relay.set_trial_system_attr(trial_id, BEAT_KEY, 1)
    relay.set_trial_system_attr(trial_id, "other", 7)  # any other attribute is stored
    attrs = database.studies.get_trial(trial_id).system_attrs
    assert attrs == {MARK_KEY: trial_id, "other": 7}
    assert database.engine is not None
    with database.engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("SELECT trial_id FROM trial_heartbeats"))
        assert [row[0] for row in rows] == [trial_id]
    # Everything else is the database's storage behind Optuna's trial cache.
    assert [t.number for t in relay.get_all_trials(study_id_of(study))] == [0]


def test_the_sweeper_fails_and_requeues_only_the_proxys_silent_trials(
    database: Database, study: optuna.Study, caplog: pytest.LogCaptureFixture
) -> None:
    relay = RelayedHeartbeats(database.studies, HEARTBEAT)
    through_proxy, direct, copied = (running_trial(study, x) for x in (0.1, 0.2, 0.3))
    relay.set_trial_system_attr(through_proxy, BEAT_KEY, 1)
    database.studies.record_heartbeat(direct)  # a direct worker's: it judges its own
    database.studies.record_heartbeat(copied)  # a retry's copy of its original's mark
    database.studies.set_trial_system_attr(copied, MARK_KEY, through_proxy)
    sweeper = StaleTrialSweeper(database.studies, HEARTBEAT)
    assert sweeper.sweep() == 0  # all beat just now
    silence(database)
    assert sweeper.sweep() == 1
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [
        TrialState.FAIL,
        TrialState.RUNNING,
        TrialState.RUNNING,
        TrialState.WAITING,
    ]
    assert trials[3].params == {"x": 0.1}
    assert trials[3].system_attrs["failed_trial"] == 0
    assert "trial #0 of study 'beats' had no heartbeat for 2 s" in caplog.text
    assert sweeper.sweep() == 0  # nothing twice


def test_a_retry_queued_for_a_trial_that_finished_meanwhile_is_withdrawn(
    database: Database, study: optuna.Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    relay = RelayedHeartbeats(database.studies, HEARTBEAT)
    trial_id = running_trial(study, 0.4)
    relay.set_trial_system_attr(trial_id, BEAT_KEY, 1)
    silence(database)
    sweeper = StaleTrialSweeper(database.studies, HEARTBEAT)
    queue = sweeper._callback()
    assert queue is not None

    def queue_then_finish(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        queue(study, trial)
        study.tell(trial.number, 1.0)  # its worker was alive after all

    monkeypatch.setattr(sweeper, "_callback", lambda: queue_then_finish)
    assert sweeper.sweep() == 0
    trials = study.get_trials(deepcopy=False)
    assert [t.state for t in trials] == [TrialState.COMPLETE, TrialState.FAIL]
    assert trials[1].system_attrs[WITHDRAWN_KEY] is True


def test_a_beat_slower_than_the_grace_period_is_warned_of_once(
    database: Database, study: optuna.Study, caplog: pytest.LogCaptureFixture
) -> None:
    relay = RelayedHeartbeats(database.studies, HEARTBEAT)
    trial_id = running_trial(study, 0.5)
    for _ in range(3):
        relay.set_trial_system_attr(trial_id, BEAT_KEY, 10)
    assert caplog.text.count("a worker beats every 10 s") == 1
