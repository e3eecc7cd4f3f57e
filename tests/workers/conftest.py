"""Worker processes on a real database: a slow tiny task, a study, and helpers to watch it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from optuna.trial import FrozenTrial, TrialState

from lrtune import run_study
from lrtune.storage import load_study, open_study_storage

# A tiny task whose every batch takes `delay` seconds, so that a trial is still running
# when a test kills its worker, and trials finish in a known order of magnitude. A worker
# started with `fast=True` trains it without the delay (the rest of a budget after a fault).
SLOW_TASK = """
import os
import time
import torch
from torch.utils.data import DataLoader, TensorDataset
import lrtune

DELAY = float(os.environ.get("SLOW_TASK_DELAY", {delay}))

class Slow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Sequential(
            torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2)
        )

    def forward(self, x):
        time.sleep(DELAY)
        return self.net(x)

def _loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 8, generator=g)
    y = (x[:, 0] > 0).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)

task = lrtune.Task(
    name="slow",
    model=Slow,
    train_loader=_loader,
    val_loader=_loader,
    criterion=torch.nn.CrossEntropyLoss(),
    epochs=2,
)
"""

# Short enough for a test to wait out, long enough that a busy machine's live trials beat.
HEARTBEAT = ("--heartbeat-interval", "1", "--grace-period", "6")


def write_slow_task(folder: Path, delay: float) -> Path:
    path = folder / "slow_task.py"
    path.write_text(SLOW_TASK.format(delay=delay))
    return path


def create_study(url: str, task: Path, *, n_trials: int, epochs: int, name: str = "w") -> str:
    """A study of the slow task, created as `lrtune study --create-only` would; no range
    tests (the LR range is given), so creating it takes no time."""
    run_study(
        str(task),
        storage=url,
        study_name=name,
        n_trials=n_trials,
        epochs=epochs,
        optimizers=["adamw"],
        schedules=["constant"],
        ranges={"adamw.lr": (1e-3, 1e-1)},
        pruner="none",
        warm_start=False,
        device="cpu",
        create_only=True,
    )
    return name


def _default_sigint() -> None:
    # A shell running CI in the background starts children with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Worker:
    """One `lrtune worker` process, its output collected line by line as it comes."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, timeout: float = 60) -> None:
        wait_for(lambda: text in self.output, timeout, f"{text!r} in the worker's output")

    def send_signal(self, number: int) -> None:
        self.process.send_signal(number)

    def finish(self, timeout: float = 120) -> tuple[int, str]:
        code = self.process.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code, self.output


class Workers:
    """`lrtune worker` processes of one study, killed at the end of the test."""

    def __init__(self, url: str, study: str) -> None:
        self.url = url
        self.study = study
        self.started: list[Worker] = []

    def start(self, *extra: str, fast: bool = False) -> Worker:
        """A worker of the study; ``fast``: its slow task's batches do not wait."""
        command = [sys.executable, "-m", "lrtune", "worker", "--study", self.study]
        command += ["--device", "cpu", *HEARTBEAT, *extra]
        env = {**os.environ, "LRTUNE_STORAGE": self.url, "OMP_NUM_THREADS": "1"}
        env["PYTHONUNBUFFERED"] = "1"
        if fast:
            env["SLOW_TASK_DELAY"] = "0"
        process = subprocess.Popen(
            command,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_default_sigint,
        )
        self.started.append(Worker(process))
        return self.started[-1]

    def close(self) -> None:
        for worker in self.started:
            if worker.process.poll() is None:
                worker.process.kill()
                worker.process.wait()


@pytest.fixture
def workers_factory() -> Iterator[Callable[[str, str], Workers]]:
    made: list[Workers] = []

    def make(url: str, study: str) -> Workers:
        made.append(Workers(url, study))
        return made[-1]

    yield make
    for workers in made:
        workers.close()


def study_trials(url: str, name: str) -> list[FrozenTrial]:
    storage = open_study_storage(url)
    return load_study(name, storage).get_trials(deepcopy=False)


def wait_for(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def running(url: str, name: str) -> list[FrozenTrial]:
    return [t for t in study_trials(url, name) if t.state == TrialState.RUNNING]


def training(url: str, name: str) -> list[FrozenTrial]:
    """Running trials past sampling: their configuration is recorded."""
    return [t for t in running(url, name) if "config" in t.user_attrs]


def by_state(trials: list[FrozenTrial]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for trial in trials:
        counts[trial.state.name] = counts.get(trial.state.name, 0) + 1
    return counts
