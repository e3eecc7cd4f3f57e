"""A storage opened read-only: nothing created, writes refused, trials read as Optuna reads them."""

from __future__ import annotations

import math
from pathlib import Path

import optuna
import pytest
from optuna.storages import RDBStorage
from optuna.trial import TrialState

from lrtune._exceptions import StorageError
from lrtune._optuna import backend_of
from lrtune.storage import Database, LightTrial, Storage, light_studies
from lrtune.storage._read_only import read_only_studies
from lrtune.storage._url import checked_url


def _study(url: str) -> optuna.Study:
    """Trials in every state, with params, values, attributes and intermediate values."""
    study = optuna.create_study(study_name="s", storage=url, direction="maximize")
    for number in range(6):
        trial = study.ask()
        x = trial.suggest_float("x", 1e-3, 1.0, log=True)
        trial.suggest_categorical("c", ["a", "b"])
        trial.set_user_attr("curve", [x, x / 2])
        for step in range(number % 3):
            trial.report(x * step, step)
        if number == 4:
            continue  # stays RUNNING
        state = [TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL][number % 3]
        study.tell(trial, x if state == TrialState.COMPLETE else None, state=state)
    study.enqueue_trial({"x": 0.5, "c": "a"})
    return study


def test_trials_are_read_as_optuna_reads_them(storage_url: str) -> None:
    _study(storage_url)
    database = Database.open_read_only(storage_url)
    ours = database.studies
    study_id = ours.get_study_id_from_name("s")
    theirs = RDBStorage(checked_url(storage_url).render_as_string(hide_password=False))
    for states in (None, (TrialState.COMPLETE,), (TrialState.RUNNING, TrialState.WAITING)):
        expected = theirs.get_all_trials(study_id, deepcopy=False, states=states)
        assert ours.get_all_trials(study_id, deepcopy=False, states=states) == expected
        for mine, optunas in zip(
            ours._backend._get_trials(study_id, states, {2}, 3),  # type: ignore[attr-defined]
            theirs._get_trials(study_id, states, {2}, 3),
            strict=True,
        ):
            assert mine.__dict__ == optunas.__dict__


def test_a_database_optuna_never_wrote_has_no_studies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    Storage(url).close()
    database = Database.open_read_only(url)
    assert database.engine is not None and read_only_studies(database.engine) is None
    assert database.studies.get_all_studies() == []


def test_a_read_only_database_finds_studies_created_after_it_opened(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'x.db'}"
    Storage(url).close()
    database = Database.open_read_only(url)
    assert database.studies.get_all_studies() == []
    optuna.create_study(study_name="later", storage=url)
    assert [s.study_name for s in database.studies.get_all_studies()] == ["later"]


def test_one_engine_serves_optuna_and_the_range_tests(storage_url: str) -> None:
    _study(storage_url)
    for database in (Database.open(storage_url), Database.open_read_only(storage_url)):
        assert database.range_tests is not None
        assert database.range_tests._engine is database.engine
        assert getattr(backend_of(database.studies), "engine", None) is database.engine
        database.close()


def test_a_read_only_storage_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="no database file there"):
        Storage(f"sqlite:///{tmp_path / 'none.db'}", read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_storage_refuses_writes(storage_url: str, make_result) -> None:  # type: ignore[no-untyped-def]
    with Storage(storage_url) as writer:
        saved = writer.save_range_test(make_result())
    with Storage(storage_url, read_only=True) as reader:
        assert [s.id for s in reader.list_range_tests()] == [saved]
        with pytest.raises(StorageError):
            reader.save_range_test(make_result())
    with Storage(storage_url) as writer:
        assert len(writer.list_range_tests()) == 1


AWKWARD_FLOATS = (0.1, 1 / 3, -0.0, 5e-324, 2.2250738585072014e-308, 1e300, 123456789.0)


def _awkward_study(url: str) -> optuna.Study:
    """Two objectives, values no column holds (infinities, NaN), the floats a text form
    rounds wrong, attributes in JSON any text may hold, and parameters of every kind."""
    study = optuna.create_study(study_name="awkward", storage=url, directions=["minimize"] * 2)
    for number, x in enumerate(AWKWARD_FLOATS):
        trial = study.ask()
        trial.suggest_float("x", -1.0, 1e301)
        trial.suggest_int("n", 1, 9)
        trial.suggest_categorical("c", [None, 'é"\\', 2.5])
        trial.set_user_attr('quote"s \\ é\n', {"nan": float("nan"), "x": x, "list": [x, None]})
        trial.set_user_attr("x", x)
        study._storage.set_trial_system_attr(trial._trial_id, "sys", [x, "ü"])
        for step, value in enumerate((x, float("inf"), float("-inf"), float("nan"))):
            study._storage.set_trial_intermediate_value(trial._trial_id, step * 3, value)
        if number % 3 == 2:
            continue  # stays RUNNING, no values
        study.tell(trial, [x, float("inf") if number % 2 else float("-inf")])
    return study


def test_a_study_read_packed_is_read_as_trial_by_trial_to_the_bit(storage_url: str) -> None:
    """``ReadOnlyRDBStorage`` reads each trial's rows packed into one text by the database;
    every float, attribute and order comes back as ``read_trials`` reads them row by row."""
    from lrtune.storage._packed_trials import read_packed_trials
    from lrtune.storage._trial_sql import read_trials

    _awkward_study(storage_url)
    database = Database.open_read_only(storage_url)
    study_id = database.studies.get_study_id_from_name("awkward")
    assert database.engine is not None
    with database.engine.connect() as connection:
        for states, included, newer in ((None, set(), -1), ((TrialState.RUNNING,), {2}, 3)):
            rows = read_trials(connection, study_id, states, included, newer)
            packed = read_packed_trials(connection, study_id, states, included, newer)
            assert rows and repr([t.__dict__ for t in packed]) == repr([t.__dict__ for t in rows])
    (first, *_) = database.studies.get_all_trials(study_id, deepcopy=False)
    assert first.values == [0.1, -math.inf] and first.intermediate_values[3] == math.inf
    assert math.isnan(first.intermediate_values[9]) and first.system_attrs["sys"] == [0.1, "ü"]
    assert [t.user_attrs["x"] for t in database.studies.get_all_trials(study_id)] == list(
        AWKWARD_FLOATS
    )
    database.close()


def test_light_trials_are_the_full_ones_less_what_they_leave_out(storage_url: str) -> None:
    """``read_light_trials`` (a big study's dashboard page) reads each trial as
    ``read_trials`` does, to the bit, less its parameters and intermediate values (it
    counts them) and the user attributes it is told to leave out; ``light_studies``
    serves such trials through a trial cache of its own."""
    from lrtune.storage._packed_trials import read_light_trials
    from lrtune.storage._trial_sql import read_trials

    _awkward_study(storage_url)
    leave_out = {"x", 'quote"s \\ é\n'}
    database = Database.open_read_only(storage_url)
    study_id = database.studies.get_study_id_from_name("awkward")
    assert database.engine is not None
    with database.engine.connect() as connection:
        for states, included, newer in ((None, set(), -1), ((TrialState.RUNNING,), {2}, 3)):
            full = read_trials(connection, study_id, states, included, newer)
            light = read_light_trials(connection, study_id, states, included, newer, leave_out)
            expected = [LightTrial.of(trial, leave_out) for trial in full]
            assert full and repr([t.__dict__ for t in light]) == repr(
                [t.__dict__ for t in expected]
            )
            assert [t.steps for t in light] == [len(t.intermediate_values) for t in full]
    studies = light_studies(database.studies, leave_out)
    assert studies is not None
    (first, *_) = studies.get_all_trials(study_id, deepcopy=False)
    assert isinstance(first, LightTrial) and first.steps == 4 and first.values == [0.1, -math.inf]
    assert not first.params and not first.intermediate_values and not set(first.user_attrs)
    assert first.system_attrs["sys"] == [0.1, "ü"]
    assert "x" in database.studies.get_all_trials(study_id, deepcopy=False)[0].user_attrs
    database.close()


def test_a_read_only_postgresql_session_compiles_no_query(postgres_url: str) -> None:
    """The dashboard's reads are index lookups per trial: PostgreSQL's JIT, which its
    statistics turn on for a big study, compiled them for longer than they ran."""
    _study(postgres_url)
    database = Database.open_read_only(postgres_url)
    assert database.engine is not None
    with database.engine.connect() as connection:
        shown = [
            connection.exec_driver_sql(f"SHOW {name}").scalar()
            for name in ("jit", "default_transaction_read_only")
        ]
    assert shown == ["off", "on"]
    database.close()
