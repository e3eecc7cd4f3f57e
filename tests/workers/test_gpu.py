"""A worker on a GPU: it trains there, and each trial records the physical GPU it used.

Skipped without CUDA (CI has none); run on a GPU machine to prove the CUDA path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from optuna.trial import TrialState

from lrtune import run_worker

from .conftest import create_study, study_trials, write_slow_task

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
def test_a_worker_trains_on_the_gpu_and_records_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'gpu.db'}"
    name = create_study(url, write_slow_task(tmp_path, 0.0), n_trials=3, epochs=2)
    outcome = run_worker(name, storage=url, device="cuda")
    assert (outcome.trials, outcome.finished) == (3, 3)
    expected_gpu = f"0: {torch.cuda.get_device_name(0)}"
    for trial in study_trials(url, name):
        assert trial.state == TrialState.COMPLETE
        assert trial.user_attrs["device"] == "cuda:0"
        assert trial.user_attrs["gpu"] == expected_gpu


@cuda
def test_study_devices_runs_one_worker_per_listed_gpu(tmp_path: Path) -> None:
    task = write_slow_task(tmp_path, 0.0)
    spec = tmp_path / "gpu.toml"
    spec.write_text(
        f'task = "{task}"\nn_trials = 4\nepochs = 2\npruner = "none"\n'
        'optimizers = ["adamw"]\nschedules = ["constant"]\n'
        '[ranges]\n"adamw.lr" = [0.001, 0.1]\n'
    )
    last = str(torch.cuda.device_count() - 1)  # the last GPU: its number shows the mapping
    url = f"sqlite:///{tmp_path / 'gpu.db'}"
    command = [sys.executable, "-m", "lrtune", "study", str(spec), "--storage", url]
    result = subprocess.run(
        [*command, "--devices", last],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"[w0/gpu{last}]" in result.stdout
    expected_gpu = f"{last}: {torch.cuda.get_device_name(int(last))}"
    trials = study_trials(url, "gpu")
    assert len(trials) == 4
    assert {t.user_attrs["gpu"] for t in trials} == {expected_gpu}
    assert {t.user_attrs["device"] for t in trials} == {"cuda:0"}
