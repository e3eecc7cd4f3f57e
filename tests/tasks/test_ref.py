"""``TaskRef``: a task spec split into its source and name, and made absolute for workers."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from lrtune.tasks import TaskRef


@pytest.mark.parametrize(
    ("spec", "source", "attr", "is_path"),
    [
        ("x.py:make", "x.py", "make", True),
        ("tasks/x.py", "tasks/x.py", None, True),
        ("pkg.mod:NAME", "pkg.mod", "NAME", False),
        ("pkg.mod", "pkg.mod", None, False),
        ("digits-cnn", "digits-cnn", None, False),
        ("C:\\tasks\\x.py", "C:\\tasks\\x.py", None, True),
        ("C:\\tasks\\x.py:make", "C:\\tasks\\x.py", "make", True),
        (":make", ":make", None, False),
    ],
)
def test_parse_splits_at_a_colon_followed_by_a_name(
    spec: str, source: str, attr: str | None, is_path: bool
) -> None:
    ref = TaskRef.parse(spec)

    assert (ref.source, ref.attr, ref.is_path) == (source, attr, is_path)
    assert str(ref) == spec


def test_a_ref_is_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TaskRef.parse("x.py").attr = "make"  # type: ignore[misc]


def test_absolute_gives_an_existing_task_file_its_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.py").write_text("")
    monkeypatch.chdir(tmp_path)
    absolute = os.path.abspath("x.py")

    assert TaskRef.parse("x.py").absolute() == absolute
    assert TaskRef.parse("x.py:make").absolute() == f"{absolute}:make"
    assert TaskRef.parse(absolute).absolute() == absolute


@pytest.mark.parametrize("spec", ["digits-cnn", "pkg.mod", "pkg.mod:NAME", "missing.py:make"])
def test_absolute_leaves_examples_modules_and_missing_files_alone(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert TaskRef.parse(spec).absolute() == spec


def test_absolute_leaves_a_module_alone_even_beside_a_file_of_its_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "tasks").write_text("")
    monkeypatch.chdir(tmp_path)

    assert TaskRef.parse("tasks").absolute() == "tasks"
