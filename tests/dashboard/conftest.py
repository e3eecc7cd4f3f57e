"""Real databases for the dashboard tests, written by lrtune itself: two short studies
(one named like an attack) with their range tests, and, apart, refine runs: one finished
by ``refine_lr``, and two made by hand as ``refine_lr`` leaves them while it runs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import matplotlib
import optuna
import pytest
from starlette.testclient import TestClient

from lrtune._optuna import experimental_ok
from lrtune.dashboard import DashboardData, create_app
from lrtune.examples import load_example
from lrtune.refine import STUDY_KIND, RefineResult, refine_lr
from lrtune.study import run_study

matplotlib.use("Agg")

XSS_NAME = "<script>alert(1)</script>"
"""A study name that would run as code if a page wrote it as markup."""


def make_study(url: str, name: str, n_trials: int, *, seed: int = 0) -> optuna.Study:
    """A short real study of digits-mlp (range tests included) in the database at ``url``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return run_study(
        "digits-mlp",
        n_trials=n_trials,
        epochs=2,
        storage=url,
        study_name=name,
        optimizers=["adamw", "sgd"],
        schedules=["constant", "cosine", "onecycle"],
        seed=seed,
    )


def fill(url: str) -> None:
    make_study(url, "mlp", 6)
    make_study(url, XSS_NAME, 2, seed=1)


REFINE_TASK = "breast-cancer-logreg"
REFINE_CANDIDATES = 8
"""Given, not ``refine_lr``'s default: the tests count them."""
REFINED = "refine-sgd"
"""The finished refine run's study name."""
RUNNING = "refine-running"
"""A refine run mid-way: candidates trained, no ``lr`` yet."""
STARTED = "refine-started"
"""A refine study with nothing but its kind: no attribute, no candidate yet."""


def make_refine(url: str) -> RefineResult:
    """A real refine run of breast-cancer-logreg with SGD (its range test stored too)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return refine_lr(
        load_example(REFINE_TASK),
        optimizer="sgd",
        budget=1.5,
        seed=0,
        storage=url,
        study_name=REFINED,
        candidates=REFINE_CANDIDATES,
    )


def running_refine(url: str, name: str = RUNNING) -> optuna.Study:
    """A refine study as ``refine_lr`` leaves it mid-run: its first attributes, one
    candidate pruned at the first rung, one training on past it, and no ``lr`` yet."""
    study = optuna.create_study(storage=url, study_name=name, direction="minimize")
    attrs = {
        "kind": STUDY_KIND,
        "task": REFINE_TASK,
        "optimizer": "sgd",
        "planned_steps": 100,
        "budget_steps": 150,
        "rungs": [10, 20],
        "range_test_id": None,
        "interval": [0.01, 0.1],
    }
    for key, value in attrs.items():
        study.set_user_attr(key, value)
    lr = optuna.distributions.FloatDistribution(0.01, 0.1, log=True)
    for value in (0.02, 0.05):
        study.enqueue_trial({"lr": value})
    pruned, going_on = study.ask({"lr": lr}), study.ask({"lr": lr})
    pruned.report(0.9, 10)
    going_on.report(0.6, 10)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    return study


def finish_refine(study: optuna.Study) -> None:
    """End ``running_refine``'s run as ``refine_lr`` does: the winner's last rung and
    value, then its result, one attribute at a time."""
    (running,) = study.get_trials(states=[optuna.trial.TrialState.RUNNING])
    winner = optuna.trial.Trial(study, running._trial_id)
    winner.report(0.4, 20)
    study.tell(winner, 0.4)
    for key, value in {"lr": 0.06, "winner_lr": 0.05, "cost_steps": 140}.items():
        study.set_user_attr(key, value)


def fill_refine(url: str) -> RefineResult:
    """``make_refine``'s run, then a running one and one just started."""
    result = make_refine(url)
    running_refine(url)
    optuna.create_study(storage=url, study_name=STARTED).set_user_attr("kind", STUDY_KIND)
    return result


MULTI = "optuna-multi"
"""A two-objective Optuna study, its metrics named: lrtune did not create it."""
PLAIN = "optuna-plain"
"""A single-objective Optuna study with intermediate values and no metric names."""
THREE = "optuna-three"
"""A three-objective Optuna study: no figure of its own."""
LRTUNE = "lrtune-small"
"""An lrtune study beside them."""


def fill_foreign(url: str) -> None:
    """Studies lrtune did not create (``MULTI``, ``PLAIN``, ``THREE``), and ``LRTUNE``."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.RandomSampler(seed=0)
    multi = optuna.create_study(
        storage=url, study_name=MULTI, directions=["minimize", "maximize"], sampler=sampler
    )
    with experimental_ok():
        multi.set_metric_names(["loss", "acc"])

    def two(trial: optuna.Trial) -> tuple[float, float]:
        x = trial.suggest_float("x", 0.0, 1.0)
        shift = {"a": 0.0, "b": 0.3}[trial.suggest_categorical("c", ["a", "b"])]
        trial.set_user_attr("note", f"x={x:.2f}")
        return x + shift, x * x

    multi.optimize(two, n_trials=10)
    multi.tell(multi.ask(), state=optuna.trial.TrialState.FAIL)
    plain = optuna.create_study(storage=url, study_name=PLAIN, sampler=sampler)

    def one(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", -2.0, 2.0)
        trial.set_user_attr("kind", trial.suggest_categorical("kind", ["u", "v"]))
        trial.set_user_attr("history", list(range(60)))  # long: cut short in the table
        for step in range(3):
            trial.report(x * x + 1.0 / (step + 1), step)
        return x * x

    plain.optimize(one, n_trials=6)
    plain.set_user_attr("owner", "someone else")
    three = optuna.create_study(
        storage=url, study_name=THREE, directions=["minimize"] * 3, sampler=sampler
    )
    three.optimize(lambda t: (t.suggest_float("x", 0, 1), 1.0, 2.0), n_trials=2)
    run_study(
        "digits-mlp",
        n_trials=2,
        epochs=1,
        optimizers=["sgd"],
        schedules=["constant"],
        ranges={"sgd.lr": (0.01, 0.1)},
        storage=url,
        study_name=LRTUNE,
        device="cpu",
    )


@pytest.fixture(scope="session")
def foreign_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a SQLite database holding ``fill_foreign``'s studies (shared: only read)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('foreign') / 'lrtune.db'}"
    fill_foreign(url)
    return url


@pytest.fixture(scope="session")
def foreign_client(foreign_db: str) -> Iterator[TestClient]:
    """The app over ``foreign_db``; a bug would answer 500 here rather than raise."""
    data = DashboardData(foreign_db)
    app = create_app(data)
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        yield client
    data.close()


@pytest.fixture(scope="session")
def dashboard_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a SQLite database holding ``fill``'s studies (shared: only read)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('dashboard') / 'lrtune.db'}"
    fill(url)
    return url


@pytest.fixture(scope="session")
def client(dashboard_db: str) -> Iterator[TestClient]:
    """The app over ``dashboard_db``, as a local browser reaches it."""
    data = DashboardData(dashboard_db)
    with TestClient(create_app(data), base_url="http://127.0.0.1") as test_client:
        yield test_client
    data.close()


@pytest.fixture(scope="session")
def refine_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, RefineResult]:
    """The URL of a SQLite database holding ``fill_refine``'s runs, and the finished run's
    result as ``refine_lr`` returned it (shared: only read)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('refine') / 'lrtune.db'}"
    return url, fill_refine(url)


@pytest.fixture(scope="session")
def refine_client(refine_db: tuple[str, RefineResult]) -> Iterator[TestClient]:
    """The app over ``refine_db``."""
    data = DashboardData(refine_db[0])
    with TestClient(create_app(data), base_url="http://127.0.0.1") as test_client:
        yield test_client
    data.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Server:
    """``lrtune dashboard`` in a subprocess, stopped on exit."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "lrtune", "dashboard", "--port", str(self.port), *args]
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.first_line = self.process.stdout.readline() if self.process.stdout else ""

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the dashboard exited: {self.first_line}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("the dashboard did not start listening")

    def stop(self) -> int:
        self.process.terminate()
        try:
            return self.process.wait(timeout=15)
        finally:
            if self.process.stdout:
                self.process.stdout.close()


@pytest.fixture
def serve() -> Iterator[type[Server]]:
    """Start servers with ``serve(*args)``; each is stopped after the test."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        server = Server(*args, env=env)
        started.append(server)
        return server

    yield start  # type: ignore[misc]
    for server in started:
        server.stop()


def database_dump(path: Path) -> list[tuple[object, ...]]:
    """Every row of every table of a SQLite file, to prove nothing changed."""
    import sqlite3

    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        tables = [
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name"
            )
        ]
        return [
            (t, *row)
            for t in tables
            for row in connection.execute(f'SELECT * FROM "{t}" ORDER BY 1')
        ]
