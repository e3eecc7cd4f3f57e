"""The curated public face: every package's ``__all__`` is complete and sorted."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import lrtune

PACKAGES = [
    "lrtune",
    "lrtune.dashboard",
    "lrtune.devices",
    "lrtune.finder",
    "lrtune.refine",
    "lrtune.report",
    "lrtune.schedules",
    "lrtune.storage",
    "lrtune.study",
    "lrtune.tasks",
    "lrtune.training",
]


def isort_order(name: str) -> tuple[bool, bool, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then functions."""
    return (not name.isupper(), not name[0].isupper(), name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    assert list(module.__all__) == sorted(module.__all__, key=isort_order)
    for exported in module.__all__:
        assert hasattr(module, exported), exported


@pytest.mark.parametrize("name", PACKAGES)
def test_all_lists_every_public_name(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and getattr(value, "__module__", "").startswith("lrtune")
        and not isinstance(value, type(importlib))
    }
    assert public <= set(module.__all__)


def test_the_documented_api_is_importable_from_the_top() -> None:
    for name in (
        "find_lr",
        "Task",
        "Metric",
        "FinderResult",
        "StopReason",
        "LRTuneError",
        "run_study",
        "run_worker",
        "refine_lr",
        "RefineResult",
    ):
        assert name in lrtune.__all__
        assert getattr(lrtune, name) is not None


RANGE_TEST_AND_PLOT = """
import sys
import torch
import lrtune

torch.manual_seed(0)
x, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
model = torch.nn.Linear(8, 3)
optimizer = torch.optim.SGD(model.parameters(), lr=1e-5)
result = lrtune.find_lr(model, optimizer, loader, torch.nn.CrossEntropyLoss(), num_iter=30)
result.plot()
print(" ".join(sorted(m for m in ("optuna", "sqlalchemy") if m in sys.modules)) or "none")
"""


def test_a_range_test_and_its_plot_load_neither_optuna_nor_sqlalchemy() -> None:
    done = subprocess.run(
        [sys.executable, "-c", RANGE_TEST_AND_PLOT], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-1] == "none"


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        lrtune.nosuch  # noqa: B018
    with pytest.raises(AttributeError, match="no attribute 'nosuch'"):
        importlib.import_module("lrtune.report").nosuch  # noqa: B018
