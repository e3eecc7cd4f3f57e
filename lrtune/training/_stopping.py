"""Stopping a training run at a safe point: between batches, never inside one.

A worker asked to stop (SIGTERM, Ctrl-C) must not have an exception thrown into whatever
code runs at that moment: the task's code or a library could catch it and carry on. It
sets a flag instead; training and evaluation look at it after every batch, through the
check the caller installed with ``stop_when``, and raise ``TrainingStopped`` from there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

StopCheck = Callable[[], "str | None"]
"""Returns why to stop (a signal's name), or None to go on."""

_CHECK: ContextVar[StopCheck | None] = ContextVar("lrtune_stop_check", default=None)


class TrainingStopped(BaseException):
    """The caller asked the run to stop; raised between batches.

    A ``BaseException``, like ``KeyboardInterrupt``, so that an ``except Exception`` on
    the way out (in a callback, say) does not take it for a failure.
    """


@contextmanager
def stop_when(check: StopCheck) -> Iterator[None]:
    """Runs in the block stop with ``TrainingStopped`` at the first batch after ``check()``
    says why."""
    token = _CHECK.set(check)
    try:
        yield
    finally:
        _CHECK.reset(token)


def stop_if_asked() -> None:
    """Raise ``TrainingStopped`` if the installed check says to stop (a safe point)."""
    check = _CHECK.get()
    if check is None:
        return
    reason = check()
    if reason is not None:
        raise TrainingStopped(reason)
