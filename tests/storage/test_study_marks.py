"""A study's marks move whenever a re-read would find something new (a trial added,
ended, a value reported, an attribute set) and only then; on SQLite and PostgreSQL."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from lrtune.storage import Database


def test_marks_move_with_each_change_a_read_would_see(storage_url: str) -> None:
    study = optuna.create_study(study_name="marked", storage=storage_url)
    database = Database.open_read_only(storage_url)
    study_id = study._study_id

    def marks() -> str:
        found = database.study_marks(study_id)
        assert found is not None
        return found.digest

    seen = [marks()]
    assert marks() == seen[-1]  # nothing moved

    def moved(change: object) -> None:
        assert marks() != seen[-1], change
        seen.append(marks())

    trial = study.ask()
    moved("a trial added")
    trial.report(0.5, 1)
    moved("a value reported")
    trial.set_user_attr("epochs_run", 1)  # a running trial's attribute: not a new state
    assert marks() == seen[-1]
    study.tell(trial, 0.4)
    moved("the trial ended")
    study.set_user_attr("n_trials", 3)
    moved("an attribute of the study")
    study.enqueue_trial({})
    moved("a trial queued")
    queued = study.ask()
    moved("the queued trial started")
    study.tell(queued, state=TrialState.FAIL)
    moved("it failed")
    assert len(set(seen)) == len(seen)
    (found,) = [database.study_marks(study_id)]
    assert found is not None and found.last_end is not None
    assert 0 <= (found.seconds_since_end() or 0) < 600
    assert database.study_marks(study_id + 1000) is None
    database.close()
