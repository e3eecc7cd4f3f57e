"""A stop (SIGTERM, SIGINT) at any moment, into a task that swallows every exception: the
worker exits 0 without a traceback, its trial is failed and queued for retry (or was
finished and told), nothing is left running, and the budget stays exact (issue 16)."""

from __future__ import annotations

import datetime
import random
import signal
import time
from pathlib import Path

import pytest
from optuna.trial import TrialState

from .conftest import create_study, study_trials, write_slow_task
from .test_faults import WorkersFactory, assert_clean_finish

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

# The task's model catches everything raised while it runs, as careless task or library
# code may: an exception thrown into it by a signal handler would be swallowed, and the
# trial would go on.
SWALLOWING = """
    def forward(self, x):
        try:
            time.sleep(DELAY)
        except BaseException:
            pass
        return self.net(x)
"""


def write_swallowing_task(folder: Path, delay: float) -> Path:
    path = write_slow_task(folder, delay)
    text = path.read_text()
    start = text.index("    def forward(self, x):")
    end = text.index("return self.net(x)", start) + len("return self.net(x)\n")
    path.write_text(text[:start] + SWALLOWING.lstrip("\n") + text[end:])
    return path


MOMENTS = random.Random(16).sample(range(0, 3000, 50), 4)
"""Milliseconds after the worker joined the study: moments of its 4 s of work, which
claims, samples, trains, evaluates, reports and tells."""
TELL_S = 0.5
"""At most this long from the end of a trial's training to its tell (a few ms here)."""


def test_a_stop_at_any_moment_requeues_or_finishes_the_trial(
    postgres_url: str, tmp_path: Path, workers_factory: WorkersFactory
) -> None:
    task = write_swallowing_task(tmp_path, 0.05)  # about 1.4 s a trial: 4 s of work
    for index, moment_ms in enumerate(MOMENTS):
        stop = (signal.SIGTERM, signal.SIGINT)[index % 2]
        name = create_study(postgres_url, task, n_trials=3, epochs=3, name=f"stop{index}")
        workers = workers_factory(postgres_url, name)
        worker = workers.start()
        worker.wait_for_line("worker joined study")
        time.sleep(moment_ms / 1000)
        sent = datetime.datetime.now()  # naive local time, as Optuna gives trials' times
        worker.send_signal(stop)
        code, output = worker.finish(timeout=60)
        context = f"{stop.name} {moment_ms} ms after joining:\n{output}"
        assert code == 0, context
        assert "Traceback" not in output, context
        trials = study_trials(postgres_url, name)
        assert all(t.state != TrialState.RUNNING for t in trials), context
        # A trial still training when the stop came was stopped, not trained to its end.
        for done in (t for t in trials if t.state.is_finished() and t.state != TrialState.FAIL):
            assert done.datetime_complete is not None
            late = (done.datetime_complete - sent).total_seconds()
            assert late < TELL_S, f"trial {done.number} ended {late:.2f} s after; {context}"
        for failed in (t for t in trials if t.state == TrialState.FAIL):
            assert failed.user_attrs["stopped_by"] == stop.name, context
            assert any(t.state == TrialState.WAITING for t in trials), context
        code, output = workers.start(fast=True).finish(timeout=60)  # the rest of the budget
        assert code == 0, output
        assert_clean_finish(postgres_url, name, 3)
