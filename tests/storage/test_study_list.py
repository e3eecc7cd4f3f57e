"""The listing of studies read with plain SQL (``study_facts``) says what a listing read
through Optuna's storage says, trial by trial, for every kind of study and trial state."""

from __future__ import annotations

import math

import optuna
import pytest
import sqlalchemy
from optuna.trial import TrialState

from lrtune._exceptions import StorageError
from lrtune.storage import Database, study_facts
from lrtune.study import ATTR, study_summaries, summaries


def _told(study: optuna.Study, state: TrialState, values: list[float] | None = None) -> None:
    trial = study.ask()
    trial.suggest_float("x", 0.0, 1.0)
    if state == TrialState.RUNNING:
        return
    if state == TrialState.PRUNED:
        trial.report(0.5, step=0)
    study.tell(trial, values, state=state)


def _fill(url: str) -> None:
    """Every kind of study, and trials in every state, with infinite values too."""
    storage = optuna.storages.RDBStorage(url)
    lrtune_study = optuna.create_study(study_name="lrtune-made", storage=storage)
    lrtune_study.set_user_attr(ATTR, {"n_trials": 9, "task": "digits-mlp"})
    for state, value in [
        (TrialState.COMPLETE, 0.3),
        (TrialState.COMPLETE, 0.1),
        (TrialState.COMPLETE, math.inf),
        (TrialState.PRUNED, None),
        (TrialState.FAIL, None),
        (TrialState.RUNNING, None),
    ]:
        _told(lrtune_study, state, None if value is None else [value])
    lrtune_study.enqueue_trial({"x": 0.5})  # a WAITING trial
    finished = optuna.create_study(study_name="finished", storage=storage)
    finished.set_user_attr(ATTR, {"n_trials": 2})
    for value in (2.0, 1.0):
        _told(finished, TrialState.COMPLETE, [value])
    up = optuna.create_study(study_name="maximized", storage=storage, direction="maximize")
    for value in (-math.inf, 3.0, -1.0):
        _told(up, TrialState.COMPLETE, [value])
    only_inf = optuna.create_study(study_name="only-inf", storage=storage)
    _told(only_inf, TrialState.COMPLETE, [-math.inf])
    pair = optuna.create_study(
        study_name="pair", storage=storage, directions=["minimize", "maximize"]
    )
    for values in ([1.0, 1.0], [2.0, 3.0], [3.0, 2.0], [4.0, math.inf]):
        _told(pair, TrialState.COMPLETE, values)
    _told(pair, TrialState.FAIL)
    for name, result in (("refine-done", True), ("refine-going", False)):
        refine = optuna.create_study(study_name=name, storage=storage)
        refine.set_user_attr("kind", "refine")
        refine.set_user_attr("task", "wine")
        if result:
            for key in ("lr", "winner_lr", "cost_steps"):
                refine.set_user_attr(key, 1.0)
        _told(refine, TrialState.PRUNED)
        _told(refine, TrialState.RUNNING)
    optuna.create_study(study_name="empty", storage=storage)


def test_the_sql_listing_is_the_listing_read_through_optuna(storage_url: str) -> None:
    _fill(storage_url)
    with Database.open_read_only(storage_url) as database:
        assert database.engine is not None
        through_optuna = study_summaries(database.studies)
        listed = summaries(study_facts(database.engine))
    assert listed == through_optuna
    by_name = {s["name"]: s for s in listed}
    assert [s["name"] for s in listed][:2] == ["empty", "refine-going"]  # newest first
    made = by_name["lrtune-made"]
    assert (made["kind"], made["task"], made["state"]) == ("study", "digits-mlp", "running")
    assert (made["finished"], made["running"], made["budget"], made["best_value"]) == (
        4,
        1,
        9,
        0.1,
    )
    assert by_name["finished"]["state"] == "finished"
    assert by_name["maximized"]["best_value"] == 3.0
    assert by_name["only-inf"]["best_value"] == -math.inf
    assert (by_name["pair"]["pareto_front"], by_name["pair"]["best_value"]) == (3, None)
    assert by_name["pair"]["direction"] == "minimize, maximize"
    assert by_name["refine-done"]["state"] == "finished"
    assert (by_name["refine-going"]["state"], by_name["refine-going"]["budget"]) == (
        "running",
        2,
    )
    assert (by_name["empty"]["state"], by_name["empty"]["last_start"]) == ("new", None)


def test_a_database_without_studies_lists_none(storage_url: str) -> None:
    engine = sqlalchemy.create_engine(storage_url)
    with engine.begin() as connection:
        connection.execute(sqlalchemy.text("CREATE TABLE notes (id INTEGER PRIMARY KEY)"))
    assert study_facts(engine) == []
    engine.dispose()


def test_another_applications_tables_are_named_in_one_line(storage_url: str) -> None:
    engine = sqlalchemy.create_engine(storage_url)
    with engine.begin() as connection:
        for name in ("studies", "trials", "version_info"):
            connection.execute(sqlalchemy.text(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY)"))
    with pytest.raises(StorageError, match="tables Optuna cannot use") as raised:
        study_facts(engine)
    assert "\n" not in str(raised.value)
    engine.dispose()
