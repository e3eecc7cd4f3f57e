from __future__ import annotations

import pickle
import re
import sys
import textwrap
from pathlib import Path

import pytest

from lrtune import TaskError
from lrtune.tasks import Task, load_task

HEADER = """
import torch
from torch.utils.data import DataLoader, TensorDataset
from lrtune.tasks import Task

def make(name):
    data = TensorDataset(torch.zeros(4, 2), torch.zeros(4, 1))
    return Task(
        name=name,
        model=lambda: torch.nn.Linear(2, 1),
        train_loader=DataLoader(data, batch_size=2),
        criterion=torch.nn.MSELoss(),
    )
"""


def write(tmp_path: Path, body: str, name: str = "user_task.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body))
    return path


def test_file_uses_its_task_attribute(tmp_path: Path) -> None:
    path = write(tmp_path, "task = make('main')\nother = make('other')\n")
    assert load_task(str(path)).name == "main"


def test_file_accepts_a_path_object(tmp_path: Path) -> None:
    assert load_task(write(tmp_path, "task = make('main')\n")).name == "main"


def test_file_with_attribute_names_the_task(tmp_path: Path) -> None:
    path = write(tmp_path, "task = make('main')\nother = make('other')\n")
    assert load_task(f"{path}:other").name == "other"


def test_file_attribute_may_be_a_factory(tmp_path: Path) -> None:
    path = write(tmp_path, "def build():\n    return make('built')\n")
    assert load_task(f"{path}:build").name == "built"


def test_file_without_task_attribute_uses_its_single_task(tmp_path: Path) -> None:
    path = write(tmp_path, "mine = make('only')\nalias = mine\n")
    assert load_task(str(path)).name == "only"


def test_file_with_no_task_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "x = 1\n")
    with pytest.raises(TaskError, match=r"No lrtune.Task in .*user_task.py; define `task = "):
        load_task(str(path))


def test_file_with_several_tasks_lists_them(tmp_path: Path) -> None:
    path = write(tmp_path, "first = make('a')\nsecond = make('b')\n")
    with pytest.raises(TaskError, match=r"Several lrtune.Tasks .*\(first, second\)"):
        load_task(str(path))


def test_missing_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "absent.py"
    with pytest.raises(TaskError, match=f"^{re.escape(f'Task file not found: {missing}')}$"):
        load_task(str(missing))


def test_error_inside_the_file_is_one_line_and_chained(tmp_path: Path) -> None:
    path = write(tmp_path, "1 / 0\n")
    with pytest.raises(TaskError) as caught:
        load_task(str(path))
    message = f"Error while loading task file {path}: ZeroDivisionError: division by zero"
    assert str(caught.value) == message
    assert isinstance(caught.value.__cause__, ZeroDivisionError)


def test_failed_file_leaves_nothing_in_sys_modules(tmp_path: Path) -> None:
    before = set(sys.modules)
    with pytest.raises(TaskError):
        load_task(str(write(tmp_path, "1 / 0\n")))
    assert not {name for name in set(sys.modules) - before if "task_file" in name}


def test_file_named_like_a_real_module_does_not_shadow_it(tmp_path: Path) -> None:
    load_task(str(write(tmp_path, "task = make('json')\n", name="json.py")))
    import json

    assert hasattr(json, "dumps")
    assert sys.modules["json"] is json


def test_file_may_define_dataclasses_and_pickle_them(tmp_path: Path) -> None:
    body = """
    from __future__ import annotations

    from dataclasses import dataclass

    import torch
    from lrtune.tasks import Task


    @dataclass
    class Config:
        width: int = 3


    def model() -> torch.nn.Module:
        return torch.nn.Linear(Config().width, 1)


    task = Task(name="dc", model=model, train_loader=lambda: None, criterion=torch.nn.MSELoss())
    """
    path = tmp_path / "dataclass_task.py"
    path.write_text(textwrap.dedent(body))
    module = sys.modules[load_task(str(path)).model.__module__]
    config = module.Config(width=5)
    assert pickle.loads(pickle.dumps(config)) == config


def test_file_imports_its_sibling_modules(tmp_path: Path) -> None:
    (tmp_path / "lrtune_test_sibling.py").write_text("NAME = 'sibling'\n")
    path = write(tmp_path, "from lrtune_test_sibling import NAME\ntask = make(NAME)\n")
    assert load_task(str(path)).name == "sibling"
    assert str(tmp_path) not in sys.path


def test_missing_attribute_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "task = make('main')\n")
    with pytest.raises(TaskError, match="has no attribute 'nope'"):
        load_task(f"{path}:nope")


def test_attribute_that_is_not_a_task_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "number = 3\n")
    with pytest.raises(TaskError, match=r"is a int, not an lrtune\.Task"):
        load_task(f"{path}:number")


def test_factory_returning_something_else_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "def build():\n    return 3\n")
    with pytest.raises(TaskError, match=r"build\(\) returned a int, not an lrtune.Task"):
        load_task(f"{path}:build")


def test_factory_that_raises_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path, "def build():\n    raise RuntimeError('boom')\n")
    with pytest.raises(TaskError, match=r"from .*:build: RuntimeError: boom$") as caught:
        load_task(f"{path}:build")
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_module_spec_uses_its_task_attribute() -> None:
    assert load_task("lrtune.examples.digits_mlp").name == "digits-mlp"


def test_module_spec_with_attribute() -> None:
    assert load_task("lrtune.examples.wine_mlp:task").name == "wine-mlp"


def test_example_name_loads_the_bundled_task() -> None:
    task = load_task("digits-cnn")
    assert isinstance(task, Task)
    assert task.name == "digits-cnn"


def test_unimportable_module_is_an_error() -> None:
    with pytest.raises(TaskError, match=r"Cannot import task module 'lrtune_no_such\.mod'"):
        load_task("lrtune_no_such.mod")


def test_module_failing_on_import_is_an_error(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "lrtune_test_broken.py").write_text("import lrtune_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    match = "Error while loading task module lrtune_test_broken: ModuleNotFoundError"
    with pytest.raises(TaskError, match=match):
        load_task("lrtune_test_broken")


def test_unknown_dashed_name_lists_the_examples() -> None:
    with pytest.raises(TaskError, match=r"Unknown task 'no-such-task'.*digits-cnn"):
        load_task("no-such-task")


def test_empty_spec_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="spec="):
        load_task("")
