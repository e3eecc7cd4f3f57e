"""Stopping a worker cleanly on SIGTERM or SIGINT.

Inside a trial, the first signal raises ``WorkerStopped`` at once, so the worker can fail
the trial and queue it for retry instead of leaving it RUNNING. Anywhere else (talking to
the database, waiting for work) it is only noted, and the worker stops before it claims
another trial: a database call is never cut in half.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class WorkerStopped(BaseException):
    """A signal asked the worker to stop in the middle of a trial.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` in a
    task's code swallows it.
    """


class StopSignals:
    """Catch SIGTERM and SIGINT while in the ``with`` block; restore the old handlers after.

    Outside the main thread signals cannot be caught; the block then changes nothing.
    """

    def __init__(self) -> None:
        self.received: str | None = None
        self._in_trial = False
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for number in STOP_SIGNALS:
                self._previous[number] = signal.signal(number, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    @contextmanager
    def trial(self) -> Iterator[None]:
        """A block the first signal interrupts with ``WorkerStopped``."""
        if self.received is not None:
            raise WorkerStopped(self.received)
        self._in_trial = True
        try:
            yield
        finally:
            self._in_trial = False

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if a signal comes."""
        deadline = time.monotonic() + seconds
        while self.received is None and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        if self.received is not None:
            return  # already stopping: let the clean-up finish
        self.received = signal.Signals(number).name
        if self._in_trial:
            self._in_trial = False
            raise WorkerStopped(self.received)
