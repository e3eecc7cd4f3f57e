"""Options are checked before anything runs, and a bad one names itself."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import nn

from lrtune._exceptions import RegistryError
from lrtune.devices import resolve_device
from lrtune.finder import FinderOptions, find_lr

from .conftest import (
    CountingLoader,
    SetupFactory,
    Snapshot,
    draw_from_every_rng,
    make_dataset,
    make_model,
    seed_everything,
)

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")

INVALID = [
    pytest.param({"start_lr": 0.0}, "start_lr", id="start_lr-zero"),
    pytest.param({"start_lr": -1e-3}, "start_lr", id="start_lr-negative"),
    pytest.param({"start_lr": 10.0, "end_lr": 10.0}, "start_lr.*end_lr", id="start_lr-equal"),
    pytest.param({"start_lr": 1.0, "end_lr": 0.1}, "start_lr.*end_lr", id="start_lr-above"),
    pytest.param({"num_iter": 19}, "num_iter", id="num_iter-too-few"),
    pytest.param({"num_iter": 50.0}, "num_iter", id="num_iter-float"),
    pytest.param({"num_iter": "50"}, "num_iter", id="num_iter-str"),
    pytest.param({"step_mode": "foo"}, "step_mode", id="step_mode"),
    pytest.param({"smoothing": 1.0}, "smoothing", id="smoothing-one"),
    pytest.param({"smoothing": -0.1}, "smoothing", id="smoothing-negative"),
    pytest.param({"diverge_threshold": 1.0}, "diverge_threshold", id="diverge_threshold"),
    pytest.param({"accumulation_steps": 0}, "accumulation_steps", id="accumulation-zero"),
    pytest.param({"accumulation_steps": 1.5}, "accumulation_steps", id="accumulation-float"),
    pytest.param({"amp": "fp32"}, "amp", id="amp"),
    pytest.param({"rule": "nope"}, "rule", id="rule"),
    pytest.param({"device": "nonsense"}, "device", id="device-nonsense"),
    pytest.param({"device": "cuda"}, "device", id="device-cuda", marks=no_cuda),
]


@pytest.mark.parametrize(("kwargs", "names"), INVALID)
def test_invalid_option_raises_value_error_naming_it_and_changes_nothing(
    kwargs: dict[str, Any],
    names: str,
    used_setup: SetupFactory,
    snapshot: Callable[..., Snapshot],
) -> None:
    model, optimizer = used_setup("adam")
    before = snapshot(model, optimizer)
    x, y = make_dataset(n=64).tensors
    loader = CountingLoader([(x[:32], y[:32]), (x[32:], y[32:])])
    seed_everything(8)
    expected_draws = draw_from_every_rng()
    seed_everything(8)

    with pytest.raises(ValueError, match=names):
        find_lr(model, optimizer, loader, nn.CrossEntropyLoss(), **kwargs)

    assert loader.read == 0
    before.assert_unchanged(model, optimizer)
    assert draw_from_every_rng() == expected_draws


def test_unknown_rule_is_a_registry_error() -> None:
    with pytest.raises(RegistryError, match="'nope'"):
        FinderOptions(rule="nope")
    assert issubclass(RegistryError, ValueError)


def test_options_accept_their_boundary_values() -> None:
    options = FinderOptions(
        start_lr=1e-12,
        end_lr=1.1e-12,
        num_iter=20,
        step_mode="linear",
        smoothing=0.0,
        diverge_threshold=1.0001,
        accumulation_steps=1,
        amp="fp16",
        rule="valley",
    )

    assert options.amp_dtype is torch.float16
    assert FinderOptions(amp="bf16").amp_dtype is torch.bfloat16
    assert FinderOptions().amp_dtype is None
    assert options.to_dict()["rule"] == "valley"


def test_to_dict_holds_every_option() -> None:
    assert FinderOptions(num_iter=30).to_dict() == {
        "start_lr": 1e-7,
        "end_lr": 10.0,
        "num_iter": 30,
        "step_mode": "exp",
        "smoothing": 0.98,
        "diverge_threshold": 4.0,
        "accumulation_steps": 1,
        "amp": None,
        "rule": "lrtune",
        "validation": False,
        "planned_steps": None,
    }


@pytest.mark.parametrize("planned_steps", [0, -5, 2.5, True, "100", 2**53 + 1])
def test_bad_planned_steps_are_rejected(planned_steps: object) -> None:
    with pytest.raises(ValueError, match="planned_steps must be None or an integer"):
        FinderOptions(planned_steps=planned_steps)  # type: ignore[arg-type]


def test_planned_steps_is_kept() -> None:
    assert FinderOptions(planned_steps=2**53).planned_steps == 2**53


def test_device_none_means_where_the_model_is() -> None:
    assert resolve_device(None, make_model()) == torch.device("cpu")
    assert resolve_device(None, nn.ReLU()) == torch.device("cpu")  # no parameters


def test_device_needs_no_model() -> None:
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device 'nonsense' is not a valid torch device"):
        resolve_device("nonsense")


def test_device_can_be_named_or_given() -> None:
    assert resolve_device("cpu", make_model()) == torch.device("cpu")
    assert resolve_device(torch.device("cpu"), make_model()) == torch.device("cpu")


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(),
    reason="an accelerator is present",
)
def test_auto_device_is_the_cpu_without_an_accelerator() -> None:
    assert resolve_device("auto", make_model()) == torch.device("cpu")


def test_invalid_device_message_names_the_value() -> None:
    with pytest.raises(ValueError, match="device 'nonsense' is not a valid torch device"):
        resolve_device("nonsense", make_model())


@pytest.mark.parametrize(
    "bad",
    [{"num_iter": 1}, {"smoothing": 1.5}, {"diverge_threshold": 0.5}, {"amp": "fp8"}],
)
def test_messages_name_the_option_not_the_code(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError) as caught:
        FinderOptions(**bad)  # type: ignore[arg-type]
    message = str(caught.value)
    assert "self." not in message
    name, value = next(iter(bad.items()))
    assert message.startswith(name) and message.endswith(f"but got {value!r}.")


@pytest.mark.parametrize("bad", [{"end_lr": float("inf")}, {"start_lr": float("nan")}])
def test_learning_rates_must_be_finite(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be a finite number"):
        FinderOptions(**bad)  # type: ignore[arg-type]


def test_an_optimizer_over_another_models_parameters_is_refused() -> None:
    model, other = nn.Linear(2, 1), nn.Linear(2, 1)
    loader = [(torch.randn(4, 2), torch.randn(4, 1))] * 3
    with pytest.raises(ValueError, match="steps none of the model's parameters"):
        find_lr(model, torch.optim.SGD(other.parameters(), lr=0.1), loader, nn.MSELoss())


@pytest.mark.parametrize(
    ("model", "optimizer", "message"),
    [
        ("model", None, "model must be a torch.nn.Module, not str"),
        (None, "sgd", "optimizer must be a torch.optim.Optimizer, not str"),
    ],
)
def test_the_model_and_optimizer_are_checked_by_type(
    model: Any, optimizer: Any, message: str
) -> None:
    real = nn.Linear(2, 1)
    model = real if model is None else model
    optimizer = torch.optim.SGD(real.parameters(), lr=0.1) if optimizer is None else optimizer
    loader = [(torch.randn(4, 2), torch.randn(4, 1))] * 3
    with pytest.raises(ValueError, match=message):
        find_lr(model, optimizer, loader, nn.MSELoss())
