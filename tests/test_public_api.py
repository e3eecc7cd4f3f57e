"""The curated public face: every package's ``__all__`` is complete and sorted."""

from __future__ import annotations

import importlib

import pytest

import lrtune

PACKAGES = [
    "lrtune",
    "lrtune.finder",
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
    ):
        assert name in lrtune.__all__
