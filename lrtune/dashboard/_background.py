"""Study figures drawn off the request path, kept by study, figure and the state drawn.

Drawing a big study's figures takes seconds (ten figures, 0.1-2 s each at 10,000
trials), so the dashboard draws them as soon as it sees a study in a new state, before
a browser asks, and answers a figure's request at once with whatever is drawn: the
drawing of the state asked for, else the latest one (of an earlier state), else a
placeholder; the page swaps each drawing in when the study's JSON says it is ready.

Each figure of a state is one job, keyed by the state it shows (``key``: the study's
``figures_version``, the importances' ``importances_version``). One thread takes the
jobs in order and computes each figure's numbers here (``inputs``), then hands them to
an executor (``drawing_pool``: worker processes) that draws, with at most as many
drawings under way as the executor draws at once. A job that a newer state of its
figure replaced before its turn came is skipped: a running study never queues more
than it can use. The numbers are computed in the server's process, whose interpreter
answers requests too: each job first waits (a while) until no request has been answered
for a moment (``Requests``), so that a page's own requests, which come one after another
(the HTML, its figures, its JSON), do not wait for its figures' numbers; under requests
that do not pause, the jobs go on after one such wait.
"""

from __future__ import annotations

import functools
import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import BrokenExecutor, Executor, Future
from contextlib import contextmanager
from typing import Any, NamedTuple

logger = logging.getLogger(__name__)

Inputs = Callable[[], tuple[Any, ...]]
"""Computes a figure's numbers (its ``draw``'s arguments), in the dashboard's process."""
Draw = Callable[[str, tuple[Any, ...]], bytes]
"""Draws figure ``name`` from its numbers, as SVG, in the executor (picklable for a
process pool: a module's function)."""


YIELD_S = 2.0
"""How long a job waits for the requests to pause before it goes on anyway: requests
that never stop (many open pages, a client polling) must not stop the drawing. Once a
job has waited that long in vain, the next ones do not wait until a pause is seen: the
drawing of a state is held up by ``YIELD_S`` in all, not by ``YIELD_S`` per figure."""

QUIET_S = 0.25
"""How long no request must have been answered before a job goes on: a page's requests
come one after another, a few milliseconds apart, and each would find the interpreter
busy with the job's numbers (seconds for a big study's read)."""


class Requests:
    """How many requests are being answered now, and a wait until none is."""

    def __init__(self) -> None:
        self._count = 0
        self._last_end = -float("inf")
        self._changed = threading.Condition()

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Count a request while it is answered."""
        self._add(1)
        try:
            yield
        finally:
            self._add(-1, ended=True)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Not count a request while it waits for the background (it would wait for itself)."""
        self._add(-1)
        try:
            yield
        finally:
            self._add(1)

    def wait_idle(self, timeout_s: float, quiet_s: float = 0.0) -> bool:
        """Wait (at most ``timeout_s``) until no request is being answered, nor has been
        for ``quiet_s``; whether that is so."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                now = time.monotonic()
                quiet_from = self._last_end + quiet_s
                if self._count <= 0 and now >= quiet_from:
                    return True
                if now >= deadline:
                    return False
                until = deadline if self._count > 0 else min(deadline, quiet_from)
                self._changed.wait(until - now)

    def _add(self, step: int, *, ended: bool = False) -> None:
        with self._changed:
            self._count += step
            if ended:
                self._last_end = time.monotonic()
            self._changed.notify_all()


class Drawn(NamedTuple):
    """A figure as drawn for one state (``key``) of a study."""

    key: str
    svg: bytes


class _Job(NamedTuple):
    study_id: int
    name: str
    key: str
    inputs: Inputs
    order: int


class BackgroundFigures:
    """Draws the figures it is asked for in ``executor``, one thread feeding it.

    Args:
        draw: Draws a figure from its numbers (run in ``executor``); a bug in it, or in
            computing the numbers, is logged and the figure is ``failed(error)`` instead,
            so that it is not drawn again and again.
        failed: The SVG shown in place of a figure that could not be drawn.
        executor: Where figures are drawn (a function, called when the first figure is).
        at_once: How many drawings may be under way together (the executor's workers).
        requests: The requests being answered, which each job waits for (``YIELD_S``).
    """

    def __init__(
        self,
        draw: Draw,
        failed: Callable[[Exception], bytes],
        executor: Callable[[], Executor],
        at_once: int = 1,
        requests: Requests | None = None,
    ) -> None:
        self._draw = draw
        self._requests = requests
        self._failed = failed
        self._executor = executor
        self._slots = threading.Semaphore(at_once)
        self._drawn: dict[tuple[int, str], Drawn] = {}
        self._drawn_order: dict[tuple[int, str], int] = {}
        self._wanted: dict[tuple[int, str], _Job] = {}
        self._changed = threading.Condition()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._order = itertools.count()
        self._thread: threading.Thread | None = None
        self._unpaused = False
        """Whether the last job's wait for a pause in the requests ran out (``YIELD_S``)."""
        self._closed = threading.Event()

    def want(self, study_id: int, figures: Mapping[str, tuple[str, Inputs]]) -> None:
        """Queue each of ``figures`` (name: its state's key, and how to compute its
        numbers) unless it is drawn or queued at that key already."""
        with self._changed:
            for name, (key, inputs) in figures.items():
                where = (study_id, name)
                drawn, wanted = self._drawn.get(where), self._wanted.get(where)
                if (drawn is None or drawn.key != key) and (wanted is None or wanted.key != key):
                    job = _Job(study_id, name, key, inputs, next(self._order))
                    self._wanted[where] = job
                    self._start()
                    self._jobs.put(job)

    def latest(self, study_id: int, name: str) -> Drawn | None:
        """The latest drawing of figure ``name`` of study ``study_id``, if any."""
        with self._changed:
            return self._drawn.get((study_id, name))

    def pending(self, study_id: int, name: str) -> bool:
        """Whether a drawing of the figure is queued or under way."""
        with self._changed:
            return (study_id, name) in self._wanted

    def wait(self, study_id: int, name: str, key: str, timeout_s: float) -> Drawn | None:
        """The figure drawn at ``key``, or at a newer state that replaced it, once it is
        (at most ``timeout_s``); else the latest drawing, if any."""

        def done() -> bool:
            drawn = self._drawn.get((study_id, name))
            waiting = (study_id, name) in self._wanted
            return drawn is not None and (drawn.key == key or not waiting)

        with self._changed:
            self._changed.wait_for(done, timeout_s)
            return self._drawn.get((study_id, name))

    def close(self) -> None:
        """Stop the feeding thread after the job under way (if any): the jobs queued are
        dropped, and one under way that fails (its database closed under it) is not
        logged as a bug."""
        self._closed.set()
        self._jobs.put(None)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="lrtune-dashboard-figures", daemon=True
            )
            self._thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None and not self._closed.is_set():
            with self._changed:
                if self._wanted.get((job.study_id, job.name)) is not job:
                    continue  # a newer state of the figure came in before this one's turn
            self._slots.acquire()
            self._yield_to_requests()
            try:
                inputs = job.inputs()
            except Exception as error:  # a bug: the thread must go on with other figures
                self._finish(job, None, error)
                continue
            try:
                drawing = self._executor().submit(self._draw, job.name, inputs)
            except BrokenExecutor as error:  # a worker died: the pool starts again
                self._finish(job, None, error)
                continue
            except RuntimeError:  # the executor was shut down: the process is exiting
                self._slots.release()
                return
            drawing.add_done_callback(functools.partial(self._drawing_done, job))

    def _yield_to_requests(self) -> None:
        """Wait until the requests pause (``QUIET_S``), at most ``YIELD_S``; not at all
        while they have not paused since the last wait ran out."""
        if self._requests is not None:
            timeout_s = 0.0 if self._unpaused else YIELD_S
            self._unpaused = not self._requests.wait_idle(timeout_s, QUIET_S)

    def _drawing_done(self, job: _Job, done: Future[bytes]) -> None:
        error = RuntimeError("cancelled") if done.cancelled() else done.exception()
        self._finish(job, None if error else done.result(), error)

    def _finish(self, job: _Job, svg: bytes | None, error: BaseException | None) -> None:
        self._slots.release()
        if svg is None:
            closed = self._closed.is_set()  # the database may have gone: not a bug
            log = logger.debug if closed else logger.error
            log("Could not draw figure %s of study %s", job.name, job.study_id, exc_info=error)
            svg = self._failed(error if isinstance(error, Exception) else RuntimeError(error))
        with self._changed:
            where = (job.study_id, job.name)
            if self._wanted.get(where) is job:
                del self._wanted[where]
            if self._drawn_order.get(where, -1) < job.order:  # not older than the one shown
                self._drawn[where] = Drawn(job.key, svg)
                self._drawn_order[where] = job.order
            self._changed.notify_all()
