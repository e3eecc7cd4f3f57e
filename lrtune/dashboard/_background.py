"""Figures drawn off the request path, kept by study and by the state they were drawn at.

Parameter importances take seconds on a big study and depend only on its completed
trials, so the dashboard draws them in one background thread and keeps the latest
drawing of each study. A request asks for the study's current state (``key``, a digest
of its completed trials) and gets at once whatever is drawn, possibly of an earlier
state, or ``None``; a state not drawn yet is queued once. A state that a newer one
replaced before its turn came is skipped: a running study never queues more than it can
use.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import NamedTuple

import optuna

logger = logging.getLogger(__name__)


class Drawn(NamedTuple):
    """What the background thread drew for one state (``key``) of a study."""

    key: str
    svg: bytes


_Job = tuple[int, str, optuna.Study]


class BackgroundFigures:
    """Draws ``draw(study)`` in a daemon thread, one study state at a time.

    Args:
        draw: The figure of a study, as SVG; a bug in it is logged and its drawing is
            ``failed(error)`` instead, so a study is not drawn again and again.
        failed: The SVG shown in place of a drawing that raised.
    """

    def __init__(
        self, draw: Callable[[optuna.Study], bytes], failed: Callable[[Exception], bytes]
    ) -> None:
        self._draw = draw
        self._failed = failed
        self._drawn: dict[int, Drawn] = {}
        self._wanted: dict[int, str] = {}
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def get(self, study_id: int, key: str, study: optuna.Study) -> Drawn | None:
        """The latest drawing of study ``study_id`` (of ``key`` or an earlier state), or
        ``None``; queues ``key`` unless it is drawn or queued already."""
        with self._lock:
            drawn = self._drawn.get(study_id)
            if (drawn is None or drawn.key != key) and self._wanted.get(study_id) != key:
                self._wanted[study_id] = key
                self._start()
                self._jobs.put((study_id, key, study))
            return drawn

    def latest(self, study_id: int) -> Drawn | None:
        """The latest drawing of study ``study_id``, if any; queues nothing."""
        with self._lock:
            return self._drawn.get(study_id)

    def close(self) -> None:
        """Stop the thread after the drawing under way (if any)."""
        self._jobs.put(None)

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._work, name="lrtune-dashboard-background", daemon=True
            )
            self._thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            study_id, key, study = job
            with self._lock:
                if self._wanted.get(study_id) != key:
                    continue  # a newer state of the study came in before this one's turn
            svg = self._drawing(study_id, study)
            with self._lock:
                self._drawn[study_id] = Drawn(key, svg)
                if self._wanted.get(study_id) == key:
                    del self._wanted[study_id]

    def _drawing(self, study_id: int, study: optuna.Study) -> bytes:
        try:
            return self._draw(study)
        except Exception as error:  # a bug: the thread must go on serving other studies
            logger.exception("Could not draw the background figure of study %s", study_id)
            return self._failed(error)
