"""``Length`` and what every family shares: its parameters, their checks, its torch class."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch

from lrtune.schedules import SCHEDULES, Interval, Length, ScheduleFamily


def test_length_counts_steps_and_rounds_to_epochs() -> None:
    length = Length(epochs=10, steps_per_epoch=23)
    assert (length.run_steps, length.total_steps) == (230, 230)
    assert length.steps(0.25) == 58
    assert length.steps(0.0001) == 1
    assert length.epoch_steps(0.26) == 3 * 23
    assert length.epoch_steps(0.01) == 23
    assert length.epoch_mark(0.5) == 5 * 23


def test_a_length_after_a_warmup_counts_only_the_steps_left() -> None:
    length = Length(epochs=4, steps_per_epoch=5).after(3)
    assert (length.start, length.run_steps, length.total_steps) == (3, 20, 17)
    assert length.steps(1.0) == 17
    assert length.epoch_steps(0.5) == 10  # a duration: unchanged by the start
    assert length.epoch_mark(0.5) == 7  # a position: the boundary at step 10 of the run


@pytest.mark.parametrize(
    ("args", "name"),
    [((0, 5), "epochs"), ((4, 0), "steps_per_epoch"), ((4.0, 5), "epochs"), ((True, 5), "epochs")],
)
def test_a_length_must_be_whole_positive_numbers(args: tuple[Any, Any], name: str) -> None:
    with pytest.raises(ValueError, match=f"{name} must be a positive integer"):
        Length(*args)


@pytest.mark.parametrize("start", [-1, 20, 1.0])
def test_a_start_must_leave_a_step(start: Any) -> None:
    with pytest.raises(ValueError, match="start must"):
        Length(4, 5, start)


def test_resolve_fills_in_the_defaults() -> None:
    cyclic = SCHEDULES.get("cyclic")
    assert cyclic.resolve({"cycles": 2.0}) == {
        "mode": "triangular",
        "cycles": 2,
        "div": 4.0,
        "gamma_final": 0.1,
    }
    assert type(cyclic.resolve({"cycles": 2.0})["cycles"]) is int


def test_cyclic_default_div_is_the_range_tests_bounds_ratio() -> None:
    from lrtune.finder._suggest import BOUNDS_RATIO

    assert SCHEDULES.get("cyclic").defaults()["div"] == BOUNDS_RATIO


@pytest.mark.parametrize(
    ("schedule", "values", "message"),
    [
        ("cosine", {"eta_min": 0.1}, r"'cosine' has no parameter 'eta_min'; .*eta_min_ratio"),
        ("constant", {"gamma": 0.1}, r"'constant' has no parameter 'gamma'"),
        ("cosine", {"eta_min_ratio": 1.5}, r"cosine\.eta_min_ratio must be in \[0, 1\]"),
        ("exponential", {"final_ratio": 0.0}, r"final_ratio must be in \[1e-12, 1\]"),
        ("onecycle", {"anneal_strategy": "cosine"}, r"one of 'cos', 'linear'.*'cosine'"),
        ("cyclic", {"cycles": 2.5}, r"cyclic\.cycles must be in \[1, 10000\]"),
        ("cosine_restarts", {"t_mult": 2.0}, r"t_mult must be one of 1, 2"),
        ("step", {"gamma": True}, r"step\.gamma must be in"),
        ("plateau", {"factor": "0.5"}, r"plateau\.factor must be in"),
        ("multistep", {"milestones": "0.5"}, r"multistep\.milestones must be one of"),
    ],
)
def test_bad_values_name_the_parameter_and_its_range(
    schedule: str, values: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SCHEDULES.get(schedule).resolve(values)


def test_values_beyond_the_searched_range_but_within_the_limits_are_used() -> None:
    # A study may widen a range up to the limits ([ranges] in a spec).
    assert SCHEDULES.get("cosine").resolve({"eta_min_ratio": 0.5})["eta_min_ratio"] == 0.5
    assert SCHEDULES.get("cyclic").resolve({"cycles": 20})["cycles"] == 20


@pytest.mark.parametrize("name", SCHEDULES.names())
def test_every_family_fits_its_torch_class(name: str) -> None:
    family = SCHEDULES.get(name)
    assert isinstance(family, ScheduleFamily)
    assert family.name == name
    kwargs = family.kwargs(0.1, {}, Length(4, 5))
    if family.scheduler_class is None:
        assert kwargs == {}
        return
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    inspect.signature(family.scheduler_class).bind(optimizer, **kwargs)
    assert "verbose" not in kwargs


def test_only_plateau_steps_per_epoch_and_only_the_cycles_refuse_a_warmup() -> None:
    per_epoch = {name for name in SCHEDULES if SCHEDULES.get(name).interval is Interval.EPOCH}
    no_warmup = {name for name in SCHEDULES if not SCHEDULES.get(name).supports_warmup}
    assert per_epoch == {"plateau"}
    assert no_warmup == {"onecycle", "cyclic"}


@pytest.mark.parametrize("schedule", ["onecycle", "cyclic"])
def test_cycling_schedules_leave_momentum_alone(schedule: str) -> None:
    kwargs = SCHEDULES.get(schedule).kwargs(0.1, {}, Length(4, 5))
    assert kwargs["cycle_momentum"] is False
    optimizer = torch.optim.RMSprop([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    SCHEDULES.get(schedule).build(optimizer, 0.1, {}, Length(4, 5))  # momentum=0 is fine
    assert optimizer.param_groups[0]["momentum"] == 0


def test_multistep_keeps_each_drop_once_and_inside_the_run() -> None:
    multistep = SCHEDULES.get("multistep")
    # On 2 epochs 0.3 and 0.6 both round to epoch 1 and 0.9 to the end of the run.
    kwargs = multistep.kwargs(0.1, {"milestones": "0.3,0.6,0.9"}, Length(2, 5))
    assert kwargs["milestones"] == [5]
    after_warmup = multistep.kwargs(0.1, {"milestones": "0.5,0.75"}, Length(4, 5).after(2))
    assert after_warmup["milestones"] == [8, 13]
