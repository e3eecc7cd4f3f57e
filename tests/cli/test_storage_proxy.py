"""``lrtune storage-proxy``: workers run a study on PostgreSQL through Optuna's gRPC proxy."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from optuna.trial import TrialState

from lrtune import run_study, run_worker
from lrtune.cli import cli
from lrtune.storage import load_study, open_study_storage
from tests.proxy_process import (
    Proxy,
    free_port,
    lrtune_command,
    start_proxy,
    stop,
    wait_until_serving,
)

pytestmark = pytest.mark.postgres


@pytest.fixture
def proxy(postgres_url: str, tmp_path: Path) -> Iterator[Proxy]:
    running = start_proxy(postgres_url, free_port(), tmp_path / "proxy.log")
    try:
        wait_until_serving(running)
        yield running
    finally:
        stop(running.process)


def create_study(url: str, name: str, n_trials: int) -> None:
    run_study(
        "digits-mlp",
        storage=url,
        study_name=name,
        n_trials=n_trials,
        epochs=1,
        optimizers=["adamw"],
        schedules=["constant"],
        finder_options={"num_iter": 30},
        pruner="none",
        device="cpu",
        create_only=True,
    )


def completed(url: str, name: str) -> list[dict[str, object]]:
    """The user attributes of the study's COMPLETE trials, read from the database itself."""
    trials = load_study(name, open_study_storage(url)).get_trials(deepcopy=False)
    assert all(t.state == TrialState.COMPLETE for t in trials), [t.state for t in trials]
    return [t.user_attrs for t in trials]


def test_workers_run_a_study_through_the_proxy(proxy: Proxy, postgres_url: str) -> None:
    database = postgres_url.rpartition("/")[2]
    assert proxy.output().splitlines()[0] == (
        f"Serving postgresql+psycopg://postgres@127.0.0.1:5432/{database} on {proxy.url}; "
        f"workers use --storage {proxy.url}"
    )
    create_study(postgres_url, "api", n_trials=3)
    outcome = run_worker("api", storage=proxy.url, device="cpu", heartbeat=None)
    assert (outcome.trials, outcome.finished) == (3, 3)
    attrs = completed(postgres_url, "api")
    assert len(attrs) == 3
    assert all(a["host"] == socket.gethostname() and a["device"] == "cpu" for a in attrs)

    # A raised budget, run by the CLI worker: its heartbeat options are moot through gRPC.
    create_study(postgres_url, "api", n_trials=5)
    worker = subprocess.run(
        lrtune_command("worker", "--study", "api", "--storage", proxy.url, "--device", "cpu"),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert worker.returncode == 0, worker.stderr
    assert worker.stdout.strip().splitlines()[-1] == (
        "Worker done: it finished 2 trials; study 'api' has 5/5 finished."
    )
    assert "Traceback" not in worker.stderr
    assert len(completed(postgres_url, "api")) == 5


@pytest.mark.parametrize("sent", [signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_signal_stops_the_proxy_with_exit_0(proxy: Proxy, sent: signal.Signals) -> None:
    proxy.process.send_signal(sent)
    assert proxy.process.wait(timeout=10) == 0
    assert proxy.output().splitlines()[-1] == f"Storage proxy stopped by {sent.name}."
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", proxy.port), timeout=1).close()


@pytest.mark.parametrize("url", ["grpc://x:1", "grpc://x"])
def test_a_proxy_as_the_backend_is_bad_input(url: str) -> None:
    result = CliRunner().invoke(cli, ["storage-proxy", "--storage", url])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: --storage must name the database, not another proxy: {url!r}."
    ]


def in_use(port: int) -> list[str]:
    return [f"Error: Cannot listen on 127.0.0.1:{port}: Address already in use."]


def test_a_port_in_use_is_one_line(postgres_url: str, capfd: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["storage-proxy", "--storage", postgres_url, "--port", str(port)]
        result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == in_use(port)
    # Nor a line of gRPC's own, written past Python to the process's stderr.
    assert capfd.readouterr().err == ""


def test_a_second_proxy_on_the_same_port_is_refused(
    proxy: Proxy, postgres_url: str, tmp_path: Path
) -> None:
    # gRPC sets SO_REUSEPORT by default, which would let both listen and share requests.
    # A subprocess, so that a second proxy that does serve fails the test, not hangs it.
    second = start_proxy(postgres_url, proxy.port, tmp_path / "second.log")
    try:
        assert second.process.wait(timeout=30) == 1
    finally:
        stop(second.process)
    assert second.output().strip().splitlines() == in_use(proxy.port)
    assert proxy.process.poll() is None
