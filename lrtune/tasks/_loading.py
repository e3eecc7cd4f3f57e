"""Finding a ``Task`` from a string: a file, a module or a bundled example name.

Spec forms::

    path/to/file.py          path/to/file.py:NAME
    package.module           package.module:NAME
    digits-cnn               (a bundled example; see ``lrtune.examples.EXAMPLES``)

Example names contain dashes and module names cannot, so the two never clash.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import importlib.machinery
import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from lrtune._exceptions import TaskError
from lrtune.examples import EXAMPLES, load_example
from lrtune.tasks._ref import TaskRef
from lrtune.tasks._task import Task


def load_task(spec: str | os.PathLike[str]) -> Task:
    """Load the task that ``spec`` names.

    ``NAME`` may be a ``Task`` or a zero-argument callable returning one. Without it,
    the module's ``task`` attribute is used, or else the one ``Task`` the module holds.

    Raises:
        TaskError: The file or module is missing, fails while loading, or holds no
            single ``Task`` under the requested name.
    """
    text = os.fspath(spec) if isinstance(spec, os.PathLike) else spec
    if not isinstance(text, str) or not text:
        raise ValueError(f"spec must be a non-empty string or path, but got {spec=}.")
    if text in EXAMPLES:
        return load_example(text)
    ref = TaskRef.parse(text)
    module = _load_file(ref.source) if ref.is_path else _import(ref.source, text)
    return _task_in(module, ref.source, ref.attr)


def _load_file(source: str) -> ModuleType:
    path = Path(source)
    if not path.is_file():
        raise TaskError(f"Task file not found: {source}")
    module, loader = _new_module(path)
    # Registered while executing (and after) so dataclasses and pickle find it by name.
    sys.modules[module.__name__] = module
    try:
        with _directory_on_path(path.parent):
            loader.exec_module(module)
    except Exception as error:
        del sys.modules[module.__name__]
        raise TaskError(f"Error while loading task file {source}: {_describe(error)}") from error
    return module


def _new_module(path: Path) -> tuple[ModuleType, importlib.machinery.SourceFileLoader]:
    name = _synthetic_name(path)
    # An explicit loader accepts any file name, not only those ending in .py.
    loader = importlib.machinery.SourceFileLoader(name, str(path))
    spec = importlib.util.spec_from_file_location(name, path, loader=loader)
    if spec is None:
        raise TaskError(f"Cannot read {path} as a Python file.")
    return importlib.util.module_from_spec(spec), loader


def _synthetic_name(path: Path) -> str:
    # Derived from the resolved path, so a task file never shadows a real module
    # (a user's "optuna.py") and loading the same file again replaces its entry.
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    return f"_lrtune_task_file_{digest}"


@contextlib.contextmanager
def _directory_on_path(directory: Path) -> Iterator[None]:
    # Task files import their sibling modules as they would under `python file.py`.
    entry = str(directory.resolve())
    added = entry not in sys.path
    if added:
        sys.path.insert(0, entry)
    try:
        yield
    finally:
        if added:
            sys.path.remove(entry)


def _import(name: str, spec: str) -> ModuleType:
    if not all(part.isidentifier() for part in name.split(".")):
        raise TaskError(
            f"Unknown task {spec!r}: not a bundled example ({', '.join(EXAMPLES)}), "
            "a .py file or an importable module."
        )
    try:
        return importlib.import_module(name)
    except Exception as error:
        raise _import_error(name, error) from error


def _import_error(name: str, error: Exception) -> TaskError:
    missing = getattr(error, "name", None) if isinstance(error, ModuleNotFoundError) else None
    # Only a missing `name` (or a parent package) means the module itself is absent;
    # a missing import inside it is an error while loading it.
    if missing is not None and (name == missing or name.startswith(f"{missing}.")):
        return TaskError(f"Cannot import task module {name!r}: {error}")
    return TaskError(f"Error while loading task module {name}: {_describe(error)}")


def _task_in(module: ModuleType, source: str, attr: str | None) -> Task:
    if attr is not None:
        if not hasattr(module, attr):
            raise TaskError(f"{source} has no attribute {attr!r}.")
        return _as_task(getattr(module, attr), f"{source}:{attr}")
    if hasattr(module, "task"):
        return _as_task(module.task, f"{source}:task")
    return _only_task(module, source)


def _only_task(module: ModuleType, source: str) -> Task:
    # One Task bound to several names is still one task.
    found: dict[int, tuple[str, Task]] = {}
    for name, value in vars(module).items():
        if isinstance(value, Task):
            found.setdefault(id(value), (name, value))
    if not found:
        raise TaskError(
            f"No lrtune.Task in {source}; define `task = lrtune.Task(...)` "
            f"or name one with {source}:NAME."
        )
    if len(found) > 1:
        names = ", ".join(sorted(name for name, _ in found.values()))
        raise TaskError(f"Several lrtune.Tasks in {source} ({names}); name one with {source}:NAME.")
    return next(iter(found.values()))[1]


def _as_task(obj: Any, where: str) -> Task:
    if isinstance(obj, Task):
        return obj
    if not callable(obj):
        raise TaskError(
            f"{where} is a {type(obj).__name__}, not an lrtune.Task or a function returning one."
        )
    try:
        result = obj()
    except Exception as error:
        raise TaskError(
            f"Error while building the task from {where}: {_describe(error)}"
        ) from error
    if not isinstance(result, Task):
        raise TaskError(f"{where}() returned a {type(result).__name__}, not an lrtune.Task.")
    return result


def _describe(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
