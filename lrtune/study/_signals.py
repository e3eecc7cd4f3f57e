"""Stopping a worker cleanly on SIGTERM or SIGINT.

A signal is only noted: no exception is thrown into whatever code runs when it comes (the
task's code or a library could catch it and carry on). Inside a trial, training looks at
the note after every batch and stops there (``lrtune.training.stop_when``), so the worker
fails the trial and queues it for retry instead of leaving it RUNNING; a trial whose
training has ended is finished and told. Outside a trial (talking to the database,
waiting for work) the worker stops before it claims another: a database call is never
cut in half.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType
from typing import Any

from lrtune.training import stop_when

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class WorkerStopped(BaseException):
    """A signal asked the worker to stop before its trial began.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` in a
    task's code swallows it.
    """


class StopSignals:
    """Catch SIGTERM and SIGINT while in the ``with`` block; restore the old handlers after.

    Outside the main thread signals cannot be caught; the block then changes nothing.
    """

    def __init__(self) -> None:
        self.received: str | None = None
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
        """A block whose training stops at the first batch after a signal
        (``TrainingStopped``); ``WorkerStopped`` at once if one came before it."""
        if self.received is not None:
            raise WorkerStopped(self.received)
        with stop_when(lambda: self.received):
            yield

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``, or less if a signal comes."""
        deadline = time.monotonic() + seconds
        while self.received is None and time.monotonic() < deadline:
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def _handle(self, number: int, _frame: FrameType | None) -> None:
        if self.received is None:  # a second signal changes nothing: the clean-up finishes
            self.received = signal.Signals(number).name
