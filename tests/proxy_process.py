"""A ``lrtune storage-proxy`` process for tests: start it, wait until it listens, stop it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

START_TIMEOUT_S = 30.0


@dataclass
class Proxy:
    """A running ``lrtune storage-proxy`` and where its output goes."""

    process: subprocess.Popen[str]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"grpc://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def lrtune_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "lrtune", *args]


def start_proxy(url: str, port: int, log: Path, *options: str) -> Proxy:
    """Start the proxy on ``url`` at ``port`` (more ``options`` after), output to ``log``."""
    command = lrtune_command("storage-proxy", "--storage", url, "--port", str(port), *options)
    with log.open("w") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    return Proxy(process, port, log)


def wait_until_serving(proxy: Proxy) -> None:
    """Until the proxy listens and has said so (its "Serving" line, written just after it
    starts listening)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proxy.process.poll() is not None:
            pytest.fail(f"the proxy exited with {proxy.process.returncode}: {proxy.output()}")
        try:
            with socket.create_connection(("127.0.0.1", proxy.port), timeout=1):
                if "Serving " in proxy.output():
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the proxy did not start serving within {START_TIMEOUT_S} s: {proxy.output()}")


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait(timeout=10)
