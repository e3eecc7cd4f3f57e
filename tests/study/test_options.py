"""``StudyOptions``: one shape, checked once, for the spec, the CLI and ``run_study``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import lrtune
from lrtune._exceptions import SpecError
from lrtune.examples import load_example
from lrtune.study import DEFAULT_OPTIMIZERS, DEFAULT_SCHEDULES, StudyOptions, parse_spec
from lrtune.tasks import Task


@pytest.fixture(scope="module")
def digits() -> Task:
    return load_example("digits-mlp")


def test_the_defaults_are_written_once_and_shared_by_the_spec() -> None:
    options = StudyOptions()
    assert (options.n_trials, options.seed, options.pruner, options.sampler) == (
        40,
        0,
        "median",
        "tpe",
    )
    assert options.optimizers == DEFAULT_OPTIMIZERS and options.schedules == DEFAULT_SCHEDULES
    assert options.lr_margin == (10.0, 2.0)
    assert parse_spec('task = "digits-mlp"\n', "s.toml").options == options


def test_values_are_normalized_as_a_spec_normalizes_them() -> None:
    options = StudyOptions(
        optimizers=["sgd", "adamw"],
        lr_margin=4,
        ranges={"sgd": {"lr": [1e-4, 1.0]}},
        pruner="Median",
    )
    assert options.optimizers == ("sgd", "adamw")
    assert options.lr_margin == (4.0, 4.0)
    assert options.ranges == {"sgd.lr": (1e-4, 1.0)}
    assert options.pruner == "median"


def test_none_for_a_list_or_table_means_its_default() -> None:
    options = StudyOptions(optimizers=None, fixed=None, finder_options=None)
    assert options == StudyOptions()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"optimizers": []}, "optimizers must be a non-empty list of optimizer names"),
        ({"warm_start": "no"}, "warm_start must be true or false"),
        ({"n_trials": True}, "n_trials must be a positive integer"),
        ({"n_trials": 2.0}, "n_trials must be a positive integer"),
        ({"seed": 2**32}, "seed must be an integer in"),
        ({"device": 3}, "device must be 'auto' or a torch device"),
        ({"finder_options": {"num_iters": 5}}, "did you mean 'num_iter'"),
        ({"fixed": {"sgd.nesterov": "yes"}}, "nesterov"),
    ],
)
def test_a_bad_value_is_refused_when_the_options_are_made(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        StudyOptions(**changes)


def test_replace_checks_the_new_values_and_refuses_unknown_names() -> None:
    options = StudyOptions(n_trials=5)
    assert options.replace(n_trials=7).n_trials == 7 and options.n_trials == 5
    with pytest.raises(ValueError, match="n_trials must be a positive integer"):
        options.replace(n_trials=0)
    with pytest.raises(TypeError, match="n_trial"):
        options.replace(n_trial=3)


def test_to_kwargs_gives_copies_the_caller_may_change() -> None:
    options = StudyOptions(fixed={"sgd.momentum": 0.9})
    options.to_kwargs()["fixed"]["sgd.momentum"] = 0.1
    assert options.fixed == {"sgd.momentum": 0.9}


def test_run_study_takes_options_and_changes_over_them(digits: Task, tmp_path: Path) -> None:
    options = StudyOptions(
        n_trials=1,
        epochs=1,
        optimizers=["sgd"],
        schedules=["constant"],
        pruner="none",
        ranges={"sgd.lr": (0.01, 0.1)},
        warm_start=False,
        device="cpu",
    )
    url = f"sqlite:///{tmp_path / 's.db'}"
    study = lrtune.run_study(digits, options, storage=url, study_name="o", n_trials=2)
    settings = lrtune.study.read_settings(study)
    assert settings.n_trials == 2 and settings.epochs == 1 and settings.pruner == "none"
    assert len(study.trials) == 2
    with pytest.raises(TypeError, match="n_trial"):
        lrtune.run_study(digits, options, storage=url, n_trial=3)


def test_a_study_talks_to_its_database_through_one_engine(digits: Task, tmp_path: Path) -> None:
    """Optuna's trials, the range tests, the locks and the counts share one engine."""
    import sqlalchemy
    from sqlalchemy.engine import Engine

    engines: set[int] = set()

    def seen(connection: sqlalchemy.Connection) -> None:
        engines.add(id(connection.engine))

    options = StudyOptions(
        n_trials=2, epochs=1, optimizers=["sgd"], schedules=["constant"], device="cpu"
    )
    options = options.replace(finder_options={"num_iter": 20})
    sqlalchemy.event.listen(Engine, "engine_connect", seen)
    try:
        study = lrtune.run_study(digits, options, storage=f"sqlite:///{tmp_path / 'e.db'}")
    finally:
        sqlalchemy.event.remove(Engine, "engine_connect", seen)
    assert len(study.trials) == 2
    assert len(engines) == 1


def test_a_parameter_both_fixed_and_searched_is_refused_by_every_way_in() -> None:
    message = (
        r"sgd.momentum is both fixed \(\[fixed\] sgd.momentum = 0.9\) and searched "
        r"\(\[ranges\] sgd.momentum = \[0.5, 0.99\]\); keep one of the two."
    )
    both = {"fixed": {"sgd.momentum": 0.9}, "ranges": {"sgd.momentum": (0.5, 0.99)}}
    with pytest.raises(ValueError, match=message):
        StudyOptions(**both)
    with pytest.raises(ValueError, match=message):
        StudyOptions(fixed=both["fixed"]).replace(ranges=both["ranges"])
    text = (
        'task = "digits-mlp"\n[fixed]\nsgd.momentum = 0.9\n[ranges]\nsgd.momentum = [0.5, 0.99]\n'
    )
    with pytest.raises(SpecError, match=r"s\.toml: sgd\.momentum is both fixed"):
        parse_spec(text, "s.toml")
    StudyOptions(fixed={"sgd.momentum": 0.9}, ranges={"sgd.lr": (0.01, 0.1)})  # apart: fine
