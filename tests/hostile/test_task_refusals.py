"""Issue 13: output paths that cannot be written, task code that is wrong in ordinary
ways, and a spec that both fixes and searches a parameter, each refused in one line.

Most cases run on SQLite alone (``SQLITE``): the refusal happens before the storage is
touched, or the backend plays no part in it. A few representative ones run on both.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from lrtune._exceptions import TaskError
from lrtune._first_batch import check_loss, check_targets
from lrtune.cli._common import BadInput
from lrtune.cli._paths import check_output_file, check_output_folder, written
from tests.cli.conftest import TASK_FILE
from tests.hostile.harness import Db, assert_refused, run_lrtune

SQLITE = pytest.mark.parametrize("db", ["sqlite"], indirect=True)
"""Run on the SQLite backend only."""

FIND = ("--num-iter", "20", "--device", "cpu")

needs_dev_full = pytest.mark.skipif(
    not os.path.exists("/dev/full"), reason="needs /dev/full (a device that is always full)"
)


@pytest.fixture
def paths(tmp_path: Path) -> dict[str, str]:
    """Output paths that cannot be written, by what is wrong with them."""
    (tmp_path / "file.txt").write_text("a regular file\n")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "folder.csv").mkdir()
    full = {}
    if os.path.exists("/dev/full"):  # a full device, under a name --plot accepts
        (tmp_path / "full.png").symlink_to("/dev/full")
        full["full.png"] = str(tmp_path / "full.png")
    return {
        "missing.png": str(tmp_path / "no" / "such" / "x.png"),
        "missing.csv": str(tmp_path / "no" / "such" / "x.csv"),
        "folder.png": str(tmp_path / "folder.png"),
        "folder.csv": str(tmp_path / "folder.csv"),
        "under_file.png": str(tmp_path / "file.txt" / "x.png"),
        "file": str(tmp_path / "file.txt"),
        **full,
    }


def bad_task(folder: Path, name: str, old: str, new: str) -> str:
    """The tiny CLI task file with ``old`` replaced by ``new``."""
    text = TASK_FILE.format(name=name, n=64)
    assert old in text, old
    path = folder / f"{name}_task.py"
    path.write_text(text.replace(old, new))
    return str(path)


CRITERION = "criterion=torch.nn.CrossEntropyLoss(),"
LABELS = "y = (x[:, 0] > 0).long()"


# --- 1. output paths -------------------------------------------------------------------


@SQLITE
@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("missing.png", "does not exist"),
        ("folder.png", "it is a folder"),
        ("under_file.png", "is a file, not a folder"),
    ],
)
def test_find_refuses_a_plot_path_before_the_sweep(
    db: Db, refused: Callable[..., str], paths: dict[str, str], path: str, fragment: str
) -> None:
    line = refused(
        2, fragment, "find", "digits-mlp", *FIND, "--storage", db.url, "--plot", paths[path]
    )
    assert f"--plot: cannot write '{paths[path]}'" in line


@SQLITE
@needs_dev_full
def test_find_says_the_range_test_is_stored_when_the_plot_fails_at_the_end(
    db: Db, paths: dict[str, str]
) -> None:
    from lrtune.storage import Storage

    result = run_lrtune(
        "find", "digits-mlp", *FIND, "--storage", db.url, "--plot", paths["full.png"]
    )
    line = assert_refused(result, 1, "Stored as run 2, but the plot could not be written")
    assert "No space left on device" in line and "lrtune show 2 --plot" in line
    assert "suggested_lr" in result.stdout  # the results are printed all the same
    with Storage(db.url) as store:
        assert store.get_range_test(2).optimizer == "AdamW"


@SQLITE
@pytest.mark.parametrize(
    ("path", "code", "fragment"),
    [
        ("folder.png", 2, "it is a folder"),
        pytest.param("full.png", 1, "No space left on device", marks=needs_dev_full),
    ],
)
def test_show_refuses_a_plot_it_cannot_write(
    db: Db, refused: Callable[..., str], paths: dict[str, str], path: str, code: int, fragment: str
) -> None:
    line = refused(code, fragment, "show", "1", "--storage", db.url, "--plot", paths[path])
    assert f"cannot write '{paths[path]}'" in line


@SQLITE
@pytest.mark.parametrize(
    ("path", "code", "fragment"),
    [
        ("missing.csv", 2, "does not exist"),
        ("folder.csv", 2, "it is a folder"),
    ],
)
def test_export_refuses_an_out_path_it_cannot_write(
    db: Db, refused: Callable[..., str], paths: dict[str, str], path: str, code: int, fragment: str
) -> None:
    line = refused(code, fragment, "export", "s", "--storage", db.url, "--out", paths[path])
    assert f"--out: cannot write '{paths[path]}'" in line


@needs_dev_full
def test_export_to_a_full_device_is_one_line(db: Db, refused: Callable[..., str]) -> None:
    line = refused(
        1, "No space left on device", "export", "s", "--storage", db.url, "--out", "/dev/full"
    )
    assert line == "Error: --out: cannot write '/dev/full': No space left on device."


@SQLITE
@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("file", "is not a folder"),
        ("under_file.png", "cannot make the folder"),
    ],
)
def test_report_refuses_an_out_folder_it_cannot_write(
    db: Db, refused: Callable[..., str], paths: dict[str, str], path: str, fragment: str
) -> None:
    refused(2, fragment, "report", "s", "--storage", db.url, "--out", paths.get(path, path))


@SQLITE
def test_report_names_the_figure_it_could_not_write(
    db: Db, refused: Callable[..., str], tmp_path: Path
) -> None:
    (tmp_path / "out" / "history.png").mkdir(parents=True)  # the first figure's name
    line = refused(
        2, "Is a directory", "report", "s", "--storage", db.url, "--out", str(tmp_path / "out")
    )
    assert f"cannot write '{tmp_path / 'out' / 'history.png'}'" in line


def test_the_path_checks_themselves(tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    assert check_output_file("--out", tmp_path / "a.csv") == tmp_path / "a.csv"
    assert check_output_folder("--out", tmp_path / "new" / "dir") == tmp_path / "new" / "dir"
    refusals = [
        (check_output_file, tmp_path, "it is a folder"),
        (check_output_file, tmp_path / "no" / "a.csv", f"the folder '{tmp_path / 'no'}' does not"),
        (check_output_file, tmp_path / "file.txt" / "a" / "b.csv", "file.txt' is a file"),
        (check_output_folder, tmp_path / "file.txt", "is not a folder"),
        (check_output_folder, tmp_path / "file.txt" / "d", "is a file, not a folder"),
    ]
    for check, path, fragment in refusals:
        with pytest.raises(BadInput) as refusal:
            check("--out", path)
        assert fragment in refusal.value.message


def test_a_failed_write_removes_the_file_it_began(tmp_path: Path) -> None:
    path = tmp_path / "half.csv"

    def write() -> None:
        path.write_text("half of it")
        raise OSError(28, "No space left on device")

    with pytest.raises(Exception, match=r"cannot write .*half\.csv': No space left") as failure:
        written("--out", path, write)
    assert not path.exists()
    assert getattr(failure.value, "exit_code", None) == 1  # the machine's fault, not the path's


# --- 2. task code that is wrong in ordinary ways ---------------------------------------


@SQLITE
@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        pytest.param(
            LABELS,
            "y = (x[:, 0] > 0).long() * 2",
            "train_loader's targets go up to 2, but the model gives 2 classes (0-1)",
            id="target-out-of-range",
        ),
        pytest.param(
            CRITERION,
            "criterion=lambda p, t: None,",
            "criterion returned None, not a tensor",
            id="criterion-none",
        ),
        pytest.param(
            CRITERION,
            "criterion=torch.nn.CrossEntropyLoss(reduction='none'),",
            "criterion returned a loss of shape (16,), not a scalar: use reduction='mean'",
            id="loss-per-sample",
        ),
    ],
)
def test_find_names_the_part_of_the_task_that_is_wrong(
    db: Db, refused: Callable[..., str], tmp_path: Path, old: str, new: str, fragment: str
) -> None:
    task = bad_task(tmp_path, "bad", old, new)
    refused(2, fragment, "find", task, *FIND, "--storage", db.url)


def test_a_criterion_returning_a_float_is_refused_on_both_backends(
    db: Db, refused: Callable[..., str], tmp_path: Path
) -> None:
    new = "criterion=lambda p, t: torch.nn.functional.cross_entropy(p, t).item(),"
    task = bad_task(tmp_path, "floaty", CRITERION, new)
    refused(2, "criterion returned a float, not a tensor", "find", task, *FIND, "--storage", db.url)


def test_check_targets() -> None:
    logits, criterion = torch.zeros(4, 10), torch.nn.CrossEntropyLoss()
    check_targets(logits, torch.tensor([0, 9, 3, 3]), criterion)
    check_targets(logits, torch.tensor([0, -100, 3, 3]), criterion)  # ignore_index
    check_targets(logits, torch.tensor([0.5, 2.0, 3.0, 1.0]), criterion)  # not class indices
    check_targets(torch.zeros(4, 3, 5), torch.tensor([[0, 1, 2, 0, 1]] * 4), criterion)
    with pytest.raises(TaskError, match=r"go up to 10, but the model gives 10 classes \(0-9\)"):
        check_targets(logits, torch.tensor([0, 10, 3, 3]), criterion)
    with pytest.raises(TaskError, match="go down to -1"):
        check_targets(logits, torch.tensor([0, -1, 3, 3]), criterion)
    with pytest.raises(TaskError, match="go up to 5, but the model gives 3 classes"):
        check_targets(torch.zeros(2, 3, 4), torch.tensor([[0, 1, 2, 5]] * 2), criterion)
    with pytest.raises(TaskError, match=r"gives 1 class \(0\)"):
        check_targets(torch.zeros(4, 1), torch.tensor([0, 1, 0, 1]), criterion)


def test_check_loss() -> None:
    model = torch.nn.Linear(3, 2)
    loss = model(torch.ones(4, 3)).pow(2).mean()
    check_loss(loss, model)
    check_loss(loss.detach())  # validation: no gradients needed
    refusals = [
        (0.5, None, "criterion returned a float, not a tensor"),
        (None, None, "criterion returned None, not a tensor"),
        (torch.ones(32), None, r"loss of shape \(32,\), not a scalar: use reduction='mean'"),
        (torch.ones(1), None, r"loss of shape \(1,\), not a scalar"),
        (torch.tensor(3), None, "dtype torch.int64, not a floating-point tensor"),
        (loss.detach(), model, "cut off from the model's output"),
        (loss.detach(), torch.nn.Linear(3, 2).requires_grad_(False), "no parameter that requires"),
    ]
    for value, owner, message in refusals:
        with pytest.raises(TaskError, match=message):
            check_loss(value, owner)


def test_training_checks_the_first_batch_too(tmp_path: Path) -> None:
    from lrtune.tasks import load_task
    from lrtune.training import StepwiseRun, train_constant_lr

    labels = load_task(bad_task(tmp_path, "labels", LABELS, "y = (x[:, 0] > 0).long() + 1"))
    with pytest.raises(TaskError, match="targets go up to 2, but the model gives 2 classes"):
        train_constant_lr(labels, "sgd", 0.1, epochs=1)
    with pytest.raises(TaskError, match="targets go up to 2"):
        StepwiseRun(
            labels, lambda params, lr: torch.optim.SGD(params, lr), 0.1, seed=0, device="cpu"
        )
    detached = "criterion=lambda p, t: torch.nn.functional.cross_entropy(p, t).detach(),"
    task = load_task(bad_task(tmp_path, "detached", CRITERION, detached))
    with pytest.raises(TaskError, match="cut off from the model's output"):
        train_constant_lr(task, "sgd", 0.1, epochs=1)


# --- 3. a parameter both fixed and searched --------------------------------------------


SPEC = """
task = "{task}"
n_trials = 2
epochs = 1
optimizers = ["sgd"]
schedules = ["constant"]
warm_start = false

[fixed]
"sgd.momentum" = 0.9

[ranges]
"sgd.momentum" = [0.5, 0.99]
"""


def test_a_parameter_both_fixed_and_searched_is_refused(
    db: Db, refused: Callable[..., str], tmp_path: Path
) -> None:
    task = bad_task(tmp_path, "tiny", "epochs=2", "epochs=2")
    spec = tmp_path / "both.toml"
    spec.write_text(SPEC.format(task=task))
    line = refused(2, "sgd.momentum is both fixed", "study", str(spec), "--storage", db.url)
    assert "[ranges] sgd.momentum = [0.5, 0.99]" in line
