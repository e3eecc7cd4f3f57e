"""A tiny task file and a storage URL on each backend for the CLI tests."""

from __future__ import annotations

from pathlib import Path

import pytest

TASK_FILE = """
import torch
from torch.utils.data import DataLoader, TensorDataset
import lrtune

def _loader(n={n}):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(max(n, 1), 8, generator=g)[:n]
    y = (x[:, 0] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=n > 0)

task = lrtune.Task(
    name="{name}",
    model=lambda: torch.nn.Sequential(
        torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
    ),
    train_loader=_loader,
    val_loader=_loader,
    criterion=torch.nn.CrossEntropyLoss(),
    epochs=2,
)
"""


def write_task(folder: Path, name: str = "tiny", n: int = 128) -> Path:
    path = folder / f"{name}_task.py"
    path.write_text(TASK_FILE.format(name=name, n=n))
    return path


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    return write_task(tmp_path)


@pytest.fixture
def task_variants(tmp_path: Path, task_file: Path) -> dict[str, str]:
    """Paths for the bad-input tests: a good task, a missing file, no task, an empty loader."""
    no_task = tmp_path / "no_task.py"
    no_task.write_text("x = 1\n")
    broken = tmp_path / "broken_task.py"
    broken.write_text(
        task_file.read_text().replace("g = torch.Generator()", "g = 1 // 0 or torch.Generator()")
    )
    return {
        "task": str(task_file),
        "broken": str(broken),
        "missing": str(tmp_path / "missing.py"),
        "no_task": str(no_task),
        "empty": str(write_task(tmp_path, name="empty", n=0)),
        "tmp": str(tmp_path),
    }
