"""Study figures drawn in worker processes: the pool, and what a worker runs.

Matplotlib draws one figure at a time in a process (``_figures._DRAWING``), and a study
figure of 10,000 trials takes up to seconds. Drawn in the server's own process, ten of
them hold the interpreter that answers requests; in worker processes they run beside it,
on their own cores. A worker gets a figure's numbers (``StudyFigure.data`` of the study,
computed in the server, plain data) and gives back its SVG, the bytes ``study_figure``
draws in the server. Workers hold no study: one pool serves every dashboard of a process.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

logger = logging.getLogger(__name__)

IMPORTANCES = "importances"
"""The study figure whose numbers a worker computes too (PED-ANOVA takes a second at
10,000 trials): it gets ``importance_inputs``, not the ``Importances``."""

MAX_WORKERS = 4


def worker_count(cores: int | None = None) -> int:
    """Workers for a machine of ``cores`` cores (``os.cpu_count()``): one core is left to
    the server, which answers requests meanwhile; from 1 to ``MAX_WORKERS``."""
    cores = cores or os.cpu_count() or 1
    return max(1, min(MAX_WORKERS, cores - 1))


def draw_figure(name: str, inputs: tuple[Any, ...]) -> bytes:
    """Study figure ``name`` (a key of ``STUDY_FIGURES``) as SVG, from its ``inputs``:
    what a worker runs."""
    from lrtune.dashboard._figures import _DRAWING, svg
    from lrtune.report import STUDY_FIGURES, importances_of

    if name == IMPORTANCES:
        (found,) = inputs
        computed = (importances_of(found),)
    else:
        computed = inputs
    with _DRAWING:  # a worker draws one at a time; so does a thread pool in its place
        return svg(STUDY_FIGURES[name].draw(*computed))


def _warm_worker() -> None:
    """Load matplotlib's fonts, the figures' modules and Optuna's importances before the
    first figure."""
    from matplotlib.figure import Figure

    from lrtune._optuna import experimental_ok
    from lrtune.dashboard._figures import svg
    from lrtune.report import IMPORTANCE_METHODS

    with experimental_ok():
        IMPORTANCE_METHODS["ped_anova"]()
    figure = Figure()
    figure.add_subplot().set_title("warm")
    svg(figure)


def _ready() -> int:
    return os.getpid()


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def drawing_pool() -> Executor:
    """The process's pool of drawing workers (``worker_count``), started on first use and
    again after a worker died. Spawned, not forked: the server runs threads."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or getattr(_POOL, "_broken", False):
            context = multiprocessing.get_context("spawn")
            _POOL = ProcessPoolExecutor(
                worker_count(), mp_context=context, initializer=_warm_worker
            )
        return _POOL


def start_drawing_pool() -> None:
    """Start the pool's workers now, so that each loads what it draws with (seconds) before
    the first page asks for figures; returns at once, the workers loading meanwhile."""
    pool = drawing_pool()
    for _ in range(worker_count()):
        pool.submit(_ready)
