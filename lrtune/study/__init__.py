"""Studies: an Optuna search over optimizer, schedule and their parameters, bounded by
range tests.

    study = lrtune.run_study("digits-mlp", n_trials=40, storage="sqlite:///lrtune.db")
    study.best_trial.user_attrs["config"]
"""

from lrtune.study._bounds import LR_MARGIN, LRBounds, margin_pair, run_range_tests
from lrtune.study._choices import PRUNERS, SAMPLERS
from lrtune.study._gate import FINISHED
from lrtune.study._loop import StudyStopped, WorkerOutcome
from lrtune.study._objective import OBJECTIVES, TrialObjective
from lrtune.study._runner import run_study
from lrtune.study._settings import StudySettings, read_settings
from lrtune.study._space import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, SearchSpace
from lrtune.study._spec import StudySpec, load_spec, parse_spec
from lrtune.study._summary import study_summaries
from lrtune.study._warm_start import TEMPLATES, warm_start_params
from lrtune.study._worker import run_worker

__all__ = [
    "DEFAULT_OPTIMIZERS",
    "DEFAULT_SCHEDULES",
    "FINISHED",
    "LR_MARGIN",
    "OBJECTIVES",
    "PRUNERS",
    "SAMPLERS",
    "TEMPLATES",
    "LRBounds",
    "SearchSpace",
    "StudySettings",
    "StudySpec",
    "StudyStopped",
    "TrialObjective",
    "WorkerOutcome",
    "load_spec",
    "margin_pair",
    "parse_spec",
    "read_settings",
    "run_range_tests",
    "run_study",
    "run_worker",
    "study_summaries",
    "warm_start_params",
]
