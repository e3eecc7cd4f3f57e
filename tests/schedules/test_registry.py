"""``SCHEDULES`` and the package's public face."""

from __future__ import annotations

import pytest

import lrtune
import lrtune.schedules
from lrtune.schedules import SCHEDULES, ScheduleFamily

FAMILIES = [
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "multistep",
    "onecycle",
    "plateau",
    "polynomial",
    "step",
]


def test_every_family_is_registered_once() -> None:
    assert SCHEDULES.names() == FAMILIES
    assert all(isinstance(SCHEDULES.get(name), ScheduleFamily) for name in FAMILIES)


@pytest.mark.parametrize("name", ["Cosine", "ONECYCLE", "cosine_Restarts"])
def test_names_are_case_insensitive(name: str) -> None:
    assert SCHEDULES.get(name) is SCHEDULES.get(name.lower())
    assert name in SCHEDULES


def test_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(lrtune.RegistryError, match=r"Unknown schedule 'cosin'; .*cosine, "):
        SCHEDULES.get("cosin")
    with pytest.raises(lrtune.RegistryError, match="choose one of: constant, cosine"):
        lrtune.schedules.plan_code("warm", 0.1, {}, lrtune.schedules.Length(1, 1))


def isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_complete_and_sorted() -> None:
    public = {name for name in vars(lrtune.schedules) if not name.startswith("_")}
    assert set(lrtune.schedules.__all__) == public
    assert lrtune.schedules.__all__ == sorted(lrtune.schedules.__all__, key=isort_key)
