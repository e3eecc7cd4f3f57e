"""Starting local worker processes for ``lrtune study --workers N --devices 0,1``.

Each worker is its own ``python -m lrtune worker`` process; with devices, each sees only
its GPU (``CUDA_VISIBLE_DEVICES``) and trains on its ``cuda:0``. Their output is shown
line by line, prefixed by the worker's number. SIGINT or SIGTERM to this process is passed
on once to every worker, which fails and queues its running trial and exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from lrtune.storage import Heartbeat


@dataclass(frozen=True)
class WorkerPlan:
    """One local worker: the device it trains on and the GPU it alone sees."""

    index: int
    device: str
    gpu: str | None = None

    def torch_device(self) -> str:
        """The device as this process, which sees every GPU, names it."""
        return f"cuda:{self.gpu}" if self.gpu is not None else self.device

    def label(self) -> str:
        return f"w{self.index}" + (f"/gpu{self.gpu}" if self.gpu is not None else "")


def plan_workers(count: int | None, devices: Sequence[str], device: str) -> list[WorkerPlan]:
    """``count`` workers (default: one per device) spread over ``devices`` in turn.

    Without devices every worker trains on ``device``.
    """
    if not devices:
        return [WorkerPlan(i, device) for i in range(count or 1)]
    total = count or len(devices)
    return [WorkerPlan(i, "cuda:0", devices[i % len(devices)]) for i in range(total)]


def parse_devices(text: str | None) -> list[str]:
    """``"0,1"`` -> ``["0", "1"]``: GPU indices as CUDA_VISIBLE_DEVICES names them."""
    if not text:
        return []
    devices = [part.strip() for part in text.split(",")]
    if any(not part.isdigit() for part in devices):
        raise click.BadParameter(f"expected GPU indices such as 0,1, not {text!r}")
    return devices


@dataclass
class LocalWorkers:
    """Run ``plans`` as worker processes of ``study_name`` and wait for them all."""

    study_name: str
    storage: str
    plans: list[WorkerPlan]
    heartbeat: Heartbeat
    threads: int | None = None
    signal_received: str | None = None
    _processes: list[subprocess.Popen[str]] = field(default_factory=list)
    _echo_lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self) -> list[int]:
        """Start every worker, pass signals on, and return their exit codes."""
        previous = {n: signal.signal(n, self._forward) for n in (signal.SIGINT, signal.SIGTERM)}
        try:
            readers = [self._start(plan) for plan in self.plans]
            for reader in readers:
                reader.join()
            return [process.wait() for process in self._processes]
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _start(self, plan: WorkerPlan) -> threading.Thread:
        process = subprocess.Popen(
            self._command(plan),
            env=self._environment(plan),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            # Its own session: a Ctrl-C at the terminal reaches this process only, which
            # passes it on once, rather than every worker twice.
            start_new_session=True,
        )
        self._processes.append(process)
        reader = threading.Thread(target=self._relay, args=(plan, process), daemon=True)
        reader.start()
        return reader

    def _command(self, plan: WorkerPlan) -> list[str]:
        return [
            sys.executable,
            "-m",
            "lrtune",
            "worker",
            "--study",
            self.study_name,
            "--device",
            plan.device,
            "--heartbeat-interval",
            str(self.heartbeat.interval),
            "--grace-period",
            str(self.heartbeat.grace),
            *self._threads(plan),
        ]

    def _threads(self, plan: WorkerPlan) -> list[str]:
        """``--threads``: as given, else the cores shared out among CPU workers (each would
        take every core otherwise, and all of them would wait on each other)."""
        if self.threads is not None:
            return ["--threads", str(self.threads)]
        if plan.device.startswith("cuda"):
            return []
        return ["--threads", str(max(1, (os.cpu_count() or 1) // len(self.plans)))]

    def _environment(self, plan: WorkerPlan) -> dict[str, str]:
        # The URL goes by environment, not argument: a password stays out of `ps`.
        env = {**os.environ, "LRTUNE_STORAGE": self.storage, "PYTHONUNBUFFERED": "1"}
        if plan.gpu is not None:
            env["CUDA_VISIBLE_DEVICES"] = plan.gpu
        return env

    def _relay(self, plan: WorkerPlan, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with self._echo_lock:
                click.echo(f"[{plan.label()}] {line.rstrip()}")

    def _forward(self, number: int, _frame: FrameType | None) -> None:
        if self.signal_received is not None:
            return
        self.signal_received = signal.Signals(number).name
        for process in self._processes:
            if process.poll() is None:
                process.send_signal(number)
