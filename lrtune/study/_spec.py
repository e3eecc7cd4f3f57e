"""Study specs: a TOML file naming a task and the keyword arguments of ``run_study``.

    task = "digits-mlp"
    n_trials = 40
    optimizers = ["sgd", "adamw"]

    [fixed]
    "sgd.momentum" = 0.9

``load_spec`` checks every value before anything is loaded or run, and reports the first
mistake as a one-line ``SpecError`` that starts with the file's path and names the key
and the value. The task is only named here; whoever runs the spec loads it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lrtune._exceptions import SpecError
from lrtune.examples import EXAMPLES
from lrtune.study._options import (
    FIELDS,
    OPTION_KEYS,
    StudyOptions,
    _one_line,
    _text,
    _unknown,
)
from lrtune.tasks import TaskRef

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class StudySpec:
    """A checked study spec: the task it names, the study's name and its options.

    Args:
        path: The spec file.
        task: The task as written (an example name, ``path/to/task.py[:NAME]`` or
            ``package.module[:NAME]``); ``resolved_task()`` is what to load.
        study_name: The study's name (default: the spec file's stem).
        options: Every other key (``[finder]`` as ``finder_options``), checked.
    """

    path: Path
    task: str
    study_name: str
    options: StudyOptions = field(default_factory=StudyOptions)

    def run_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``run_study(task, **kwargs)``."""
        return {"study_name": self.study_name, **self.options.to_kwargs()}

    def with_overrides(self, **changes: Any) -> StudySpec:
        """A copy with ``changes`` (``n_trials=``, ``study_name=``, ``timeout=``, ...),
        checked like the file's values; a bad one raises ``ValueError``."""
        name = changes.pop("study_name", None)
        changed = replace(self, options=self.options.replace(**changes))
        return changed if name is None else replace(changed, study_name=_text("study_name", name))

    def resolved_task(self) -> str:
        """``task`` for ``load_task``: a relative task file found beside the spec is
        given by its path from here; otherwise ``task`` is left as written (and so looked
        for in the current directory)."""
        ref = TaskRef.parse(self.task)
        if self.task in EXAMPLES or not ref.is_path or Path(ref.source).is_absolute():
            return self.task
        beside = self.path.parent / ref.source
        if not beside.is_file():
            return self.task
        return f"{beside}:{ref.attr}" if ref.attr else str(beside)


def load_spec(path: str | os.PathLike[str]) -> StudySpec:
    """Read and check the study spec at ``path``; the task is not loaded.

    Raises:
        SpecError: The file is missing or unreadable, is not TOML, or holds an unknown
            key or a bad value; the one-line message starts with ``path``.
    """
    path = Path(path)
    return parse_spec(_read(path), path)


def parse_spec(text: str, path: str | os.PathLike[str]) -> StudySpec:
    """Check the spec ``text`` read from ``path`` (which names it in messages and
    gives the default study name and the folder relative task files are found in)."""
    path = Path(path)
    try:
        return _build(_parse_toml(text), path)
    except ValueError as error:
        raise SpecError(f"{path}: {_one_line(str(error))}") from error


MAX_SPEC_BYTES = 1_000_000
"""A spec is a few dozen lines; anything this big is some other file."""


def _read(path: Path) -> str:
    if path.is_dir():
        raise SpecError(f"{path}: is a folder, not a spec file.")
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # the read below says why
    if size > MAX_SPEC_BYTES:
        raise SpecError(
            f"{path}: {size / 1e6:.1f} MB is far too big for a study spec "
            f"(at most {MAX_SPEC_BYTES // 1000} kB): is it the right file?"
        )
    try:
        # utf-8-sig: some editors start a UTF-8 file with a byte-order mark.
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file.") from None
    except UnicodeDecodeError as error:
        raise SpecError(f"{path}: not UTF-8 text (byte {error.start}: {error.reason}).") from None
    except OSError as error:
        raise SpecError(f"{path}: cannot be read ({error.strerror}).") from None


def _parse_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"invalid TOML: {error}") from error
    except RecursionError:
        raise ValueError("invalid TOML: its tables or arrays are nested too deeply") from None


def _build(values: dict[str, Any], path: Path) -> StudySpec:
    for key in values:
        if key not in SPEC_KEYS:
            raise ValueError(_unknown("key", key, list(SPEC_KEYS)))
    if "task" not in values:
        raise ValueError(
            "missing the required key 'task' (an example name such as 'digits-mlp', "
            "a path/to/task.py or a package.module)."
        )
    task = _text("task", values.pop("task"))
    study_name = _text("study_name", values.pop("study_name", path.stem))
    options = StudyOptions(**{FIELDS.get(key, key): value for key, value in values.items()})
    return StudySpec(path=path, task=task, study_name=study_name, options=options)


SPEC_KEYS = ("task", "study_name", *OPTION_KEYS)
"""Every key a spec may hold, in the order the docs list them."""
