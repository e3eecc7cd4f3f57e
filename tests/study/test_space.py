from __future__ import annotations

from typing import Any

import optuna
import pytest
import torch

from lrtune._optuna import experimental_ok
from lrtune.schedules import Length, build_plan
from lrtune.study import LRBounds, SearchSpace, warm_start_params
from lrtune.study._bounds import lr_free_bounds
from lrtune.training import TrainingConfig

LR = {"sgd": (1e-3, 1.0), "adamw": (1e-5, 1e-2)}


def space(**changes: Any) -> SearchSpace:
    values: dict[str, Any] = {
        "optimizers": ("sgd", "adamw"),
        "schedules": ("constant", "cosine", "onecycle"),
        "lr": LR,
    }
    return SearchSpace(**{**values, **changes})


def draw(search: SearchSpace, n: int = 40, seed: int = 0) -> list[tuple[TrainingConfig, dict]]:
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    drawn = []
    for _ in range(n):
        trial = study.ask()
        drawn.append((search.sample(trial), dict(trial.params)))
        study.tell(trial, 0.0)
    return drawn


def test_only_the_chosen_families_parameters_are_suggested() -> None:
    for config, params in draw(space()):
        for name in params:
            family = name.split(".", 1)[0]
            assert name in ("optimizer", "schedule") or family in (
                config.optimizer,
                config.schedule,
            )
        assert f"{config.optimizer}.lr" in params


def test_lr_stays_inside_each_optimizers_own_range() -> None:
    for config, _ in draw(space()):
        low, high = LR[config.optimizer]
        assert low <= config.lr <= high


def test_every_optimizer_and_schedule_is_drawn() -> None:
    drawn = draw(space(), n=60)
    assert {c.optimizer for c, _ in drawn} == {"sgd", "adamw"}
    assert {c.schedule for c, _ in drawn} == {"constant", "cosine", "onecycle"}


def test_fixed_parameters_are_not_suggested_but_used() -> None:
    fixed = {"sgd.momentum": 0.8, "schedule": "cosine", "cosine.eta_min_ratio": 0.05}
    for config, params in draw(space(fixed=fixed)):
        assert "schedule" not in params and "cosine.eta_min_ratio" not in params
        assert config.schedule == "cosine"
        assert config.schedule_params == {"eta_min_ratio": 0.05}
        if config.optimizer == "sgd":
            assert config.optimizer_params["momentum"] == 0.8
            assert "sgd.momentum" not in params


def test_a_single_candidate_is_not_a_choice() -> None:
    for config, params in draw(space(optimizers=("adamw",)), n=5):
        assert "optimizer" not in params
        assert config.optimizer == "adamw"


def test_ranges_replace_a_parameters_default_range() -> None:
    ranges = {"adamw.weight_decay": (0.2, 0.25)}
    drawn = draw(space(ranges=ranges))
    values = [c.optimizer_params["weight_decay"] for c, _ in drawn if c.optimizer == "adamw"]
    assert values and all(0.2 <= v <= 0.25 for v in values)


def test_warmup_off_on_and_search() -> None:
    assert all(c.warmup_ratio is None for c, _ in draw(space()))
    for config, _ in draw(space(warmup="on")):
        if config.schedule == "onecycle":  # 1cycle climbs by design: no warmup
            assert config.warmup_ratio is None
        else:
            assert 0.01 <= config.warmup_ratio <= 0.2
    searched = draw(space(warmup="search"), n=60)
    assert {c.warmup_ratio is None for c, _ in searched if c.schedule != "onecycle"} == {
        True,
        False,
    }
    assert all("warmup" in p for c, p in searched if c.schedule != "onecycle")


def test_round_trips_through_a_dict() -> None:
    original = space(warmup="search", fixed={"sgd.nesterov": True}, ranges={"sgd.lr": (0.01, 0.1)})
    assert SearchSpace.from_dict(original.to_dict()) == original


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"optimizers": ("sgd", "lamb")}, "Unknown optimizer 'lamb'"),
        ({"schedules": ()}, "at least one schedule"),
        ({"schedules": ("cosine", "cosine")}, "listed twice"),
        ({"warmup": "maybe"}, "warmup must be one of"),
        ({"fixed": {"sgd.momentun": 0.9}}, "Did you mean 'sgd.momentum'"),
        ({"fixed": {"cosine.eta_min_ratio": 1.5}}, "it must be in [0, 1]"),
        ({"ranges": {"cosine.eta_min_ratio": (0.0, 2.0)}}, "must lie within [0, 1]"),
        ({"fixed": {"sgd.nesterov": 1}}, "sgd.nesterov"),
        ({"fixed": {"sgd.lr": 0}}, "must be positive"),
        ({"fixed": {"optimizer": "adam"}}, "not among"),
        ({"ranges": {"sgd.nesterov": (0, 1)}}, "categorical"),
        ({"ranges": {"adamw.weight_decay": (0.0, 0.1)}}, "log-scaled range must be positive"),
        ({"ranges": {"sgd.momentum": (0.9, 0.5)}}, "low must not exceed high"),
        ({"lr": {"sgd": (1e-3, 1.0)}}, "No learning-rate range for optimizer 'adamw'"),
    ],
)
def test_bad_spaces_are_refused_naming_the_problem(changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        space(**changes)


def test_optimizer_values_outside_the_searched_range_may_be_fixed() -> None:
    fixed = {"adamw.weight_decay": 0.0, "sgd.lr": 5.0}
    configs = [c for c, _ in draw(space(fixed=fixed))]
    assert {c.optimizer_params["weight_decay"] for c in configs if c.optimizer == "adamw"} == {0.0}
    assert {c.lr for c in configs if c.optimizer == "sgd"} == {5.0}


def test_a_widened_schedule_range_is_sampled_and_trained() -> None:
    search = space(schedules=("cosine",), ranges={"cosine.eta_min_ratio": (0.3, 0.5)})
    assert search.params()["cosine.eta_min_ratio"].high == 0.5
    for config, _ in draw(search, n=5):
        assert 0.3 <= config.schedule_params["eta_min_ratio"] <= 0.5
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=config.lr)
        build_plan(optimizer, "cosine", config.lr, config.schedule_params, Length(2, 3))


def test_a_schedule_value_beyond_the_searched_range_may_be_fixed() -> None:
    drawn = draw(space(schedules=("cosine",), fixed={"cosine.eta_min_ratio": 0.5}), n=3)
    assert {c.schedule_params["eta_min_ratio"] for c, _ in drawn} == {0.5}


# --- optimizers that take only some schedules, and learning-rate-free ones -----------------

SCHEDULE_FREE_LR = {**LR, "schedulefree-adamw": (1e-4, 1e-1)}


def schedule_free_space(**changes: Any) -> SearchSpace:
    return space(optimizers=("adamw", "schedulefree-adamw"), lr=SCHEDULE_FREE_LR, **changes)


def draw_tpe(search: SearchSpace, n: int = 30) -> list[tuple[TrainingConfig, dict]]:
    """Trials drawn as a study draws them: TPE, multivariate and grouped, past its start-up."""
    with experimental_ok():
        sampler = optuna.samplers.TPESampler(
            seed=0, multivariate=True, group=True, n_startup_trials=8
        )
    study = optuna.create_study(sampler=sampler)
    drawn = []
    for index in range(n):
        trial = study.ask()
        drawn.append((search.sample(trial), dict(trial.params)))
        study.tell(trial, float(index % 7))
    return drawn


def test_schedule_free_is_drawn_with_constant_only_and_draws_no_schedule() -> None:
    drawn = draw_tpe(schedule_free_space())
    schedule_free = [(c, p) for c, p in drawn if c.optimizer == "schedulefree-adamw"]
    others = [c for c, _ in drawn if c.optimizer != "schedulefree-adamw"]
    assert schedule_free and others
    for config, params in schedule_free:
        assert config.schedule == "constant" and config.schedule_params == {}
        assert "schedule" not in params
        assert {"schedulefree-adamw.lr", "schedulefree-adamw.beta1"} <= params.keys()
    assert {c.schedule for c in others} == {"constant", "cosine", "onecycle"}


def test_a_fixed_schedule_the_optimizer_allows_is_used() -> None:
    for config, params in draw(schedule_free_space(fixed={"schedule": "constant"})):
        assert config.schedule == "constant" and "schedule" not in params


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"schedules": ("cosine", "onecycle")}, "holds none of them"),
        ({"fixed": {"schedule": "cosine"}}, "does not suit optimizer 'schedulefree-adamw'"),
    ],
)
def test_an_optimizer_left_without_a_schedule_it_takes_is_refused(
    changes: dict, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        schedule_free_space(**changes)


def test_an_optimizer_fixed_away_needs_no_schedule_of_its_own() -> None:
    fixed = {"optimizer": "adamw", "schedule": "cosine"}
    assert {c.schedule for c, _ in draw(schedule_free_space(fixed=fixed))} == {"cosine"}


def test_warm_start_fallback_gives_schedule_free_a_schedule_it_takes() -> None:
    search = SearchSpace(
        ("schedulefree-adamw",), ("cosine", "constant"), {"schedulefree-adamw": (1e-4, 1e-1)}
    )
    bounds = {"schedulefree-adamw": LRBounds("schedulefree-adamw", 1e-3, 1e-2, 2e-3, 1e-4, 1e-1)}
    assert warm_start_params(search, bounds) == [
        {
            "optimizer": "schedulefree-adamw",
            "schedulefree-adamw.lr": 2e-3,
            "schedulefree-adamw.beta1": 0.9,
            "schedulefree-adamw.weight_decay": 1e-4,
        }
    ]


def test_lr_free_bounds_reach_a_decade_either_side_of_the_default() -> None:
    assert lr_free_bounds("prodigy") == LRBounds("prodigy", None, None, 1.0, 0.1, 10.0)
    with pytest.raises(ValueError, match="optimizer='adamw'"):
        lr_free_bounds("adamw")
