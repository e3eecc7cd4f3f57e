"""What the dashboard reads, opened read-only, with each study's figures kept per state.

A study's state (``version``) is a digest of its trials' numbers, states and reported
epochs (and, for a refine run, of whether it wrote its result). While it is unchanged,
every request reuses the same ``StudyReport`` (or ``RefineView``) and the figures already
drawn from it; a running study's page polls the digest and shows what moved, and draws
its figures again only when a trial was added or ended (``figures_version``): a state
whose ``figures_version`` is unchanged keeps the figures drawn before it.

Parameter importances depend only on the completed trials (``importances_version``) and
take seconds on a big study: they are drawn in a background thread
(``BackgroundFigures``), and the page shows a placeholder until they are ready.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lrtune._exceptions import NotFoundError
from lrtune.dashboard._background import BackgroundFigures, Drawn
from lrtune.dashboard._figures import importances_figure, placeholder
from lrtune.dashboard._optuna_study import OPTUNA_KIND, OptunaView
from lrtune.dashboard._refine import RefineView, refine_view
from lrtune.finder import FinderResult
from lrtune.refine import STUDY_KIND
from lrtune.report import STUDY_FIGURES, StudyReport, configured_trials
from lrtune.storage import Database, RangeTestSummary, study_errors
from lrtune.study import ATTR, REFINE_RESULT_ATTRS, study_kind, study_summaries, trials_state

TOP_TRIALS = 5
"""How many of the best trials the top-trials figure shows, as ``lrtune report``'s default."""

MAX_ID = 2**63 - 1
"""The largest id a database column holds: any larger is no study and no range test."""

RANGE_FIGURES_KEPT = 64
"""How many range test figures (about 100 KiB each) the dashboard keeps in memory."""

IMPORTANCES = "importances"
"""The study figure drawn in the background (``BackgroundFigures``), not on request."""


class StudySnapshot(optuna.Study):
    """A study whose trials and settings are read once, when it is made.

    Every figure and table of one state of the page then sees the same trials, and reads
    none: ``get_trials`` filters the list read at the start.
    """

    def __init__(self, study_name: str, storage: optuna.storages.BaseStorage) -> None:
        super().__init__(study_name=study_name, storage=storage)
        self._trials = super().get_trials(deepcopy=False)
        self._attrs = super().user_attrs

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self._attrs

    def get_trials(
        self, deepcopy: bool = True, states: Container[TrialState] | None = None
    ) -> list[FrozenTrial]:
        trials = self._trials if states is None else [t for t in self._trials if t.state in states]
        return copy.deepcopy(trials) if deepcopy else list(trials)


def study_version(study: StudySnapshot) -> str:
    """A short digest that changes when a trial is added, changes state or reports an epoch,
    and when the study's state (``lrtune_state``) changes."""
    budget = study.user_attrs.get(ATTR, {}).get("n_trials")
    return _digest((budget, _trial_marks(study), lrtune_state(study)))


def figures_version(study: StudySnapshot) -> str:
    """A short digest that changes when a trial is added or changes state, but not when
    one reports an epoch: a running study's page redraws its figures once per trial."""
    budget = study.user_attrs.get(ATTR, {}).get("n_trials")
    trials = study.get_trials(deepcopy=False)
    return _digest((budget, [(t.number, t.state.value) for t in trials]))


def importances_version(study: StudySnapshot) -> str:
    """A short digest of the completed trials the importances are computed from (their
    numbers and values): it moves only when a trial completes."""
    return _digest([(t.number, t.value) for t in configured_trials(study)])


def lrtune_state(study: StudySnapshot, now: datetime | None = None) -> str:
    """The state of a study lrtune made, as the overview and ``lrtune studies`` show it
    (``trials_state``): ``"running"`` between two of its trials too."""
    budget = study.user_attrs.get(ATTR, {}).get("n_trials")
    return trials_state(study.get_trials(deepcopy=False), budget, now)


def refine_version(study: StudySnapshot) -> str:
    """As ``study_version``, and it changes when the refine run writes its result, which
    it does after its last trial finished."""
    written = [key for key in REFINE_RESULT_ATTRS if key in study.user_attrs]
    return _digest((written, _trial_marks(study)))


def _trial_marks(study: StudySnapshot) -> list[tuple[int, int, int]]:
    trials = study.get_trials(deepcopy=False)
    return [(t.number, t.state.value, len(t.intermediate_values)) for t in trials]


def _digest(marks: object) -> str:
    return hashlib.sha1(repr(marks).encode()).hexdigest()[:12]


class Figures:
    """Figures (or other answers) made by name, each made once: a request for one that
    another request is making waits for it rather than making its own.

    Args:
        limit: Keep at most this many (the oldest made is forgotten first); ``None``: all.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.drawn: dict[str, bytes] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def get(self, name: str, draw: Callable[[], bytes]) -> bytes:
        with self._lock:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            made = self.drawn.get(name)
            if made is None:
                made = self.drawn[name] = draw()
                self._forget_oldest()
            return made

    def _forget_oldest(self) -> None:
        with self._lock:
            while self._limit is not None and len(self.drawn) > self._limit:
                oldest = next(iter(self.drawn))
                del self.drawn[oldest]
                self._locks.pop(oldest, None)


@dataclass
class StudyView:
    """One state of one study: its report data and the figures drawn from it so far."""

    id: int
    name: str
    version: str
    report: StudyReport
    drawn: Figures = field(default_factory=Figures)
    """Shared with the previous state when its ``figures_version`` was the same."""
    figures_version: str = ""
    """``figures_version``: what the page's figures are drawn at."""
    importances_version: str = ""
    """``importances_version``: the state importances are drawn at."""
    state: str = "new"
    """``lrtune_state``: ``"running"`` between two trials too."""
    answers: Figures = field(default_factory=Figures)
    """Answers other than figures made from this state (the trial table's JSON)."""

    @property
    def figures(self) -> dict[str, bytes]:
        """The figures drawn so far, by name (the importances are not among them)."""
        return self.drawn.drawn

    def figure(self, name: str, draw: Callable[[StudyReport], bytes]) -> bytes:
        return self.drawn.get(name, lambda: draw(self.report))

    def figure_versions(self, importances: Drawn | None) -> dict[str, str]:
        """Each figure's version, as its URL carries it (``?v=``): the importances'
        is the state they were drawn at (``pending`` until they first are)."""
        versions = dict.fromkeys(STUDY_FIGURES, self.figures_version)
        versions[IMPORTANCES] = "pending" if importances is None else importances.key
        return versions


View = StudyView | RefineView | OptunaView
"""What ``DashboardData.study`` gives, by the study's kind (``study_kind``)."""


class DashboardData:
    """Range tests and studies in the database at ``url``, read-only.

    Raises ``StorageError`` (one line) when the database cannot be opened.
    """

    def __init__(self, url: str | None) -> None:
        self.database = Database.open_read_only(url)
        self.url = self.database.url
        """The storage URL as the user gave it, password hidden."""
        range_tests = self.database.range_tests
        assert range_tests is not None  # a read-only database has an engine
        self.range_tests = range_tests
        self._views: dict[int, View] = {}
        self._lock = threading.Lock()
        self.background = BackgroundFigures(importances_figure, _failed_importances)
        """Where the importances are drawn (``IMPORTANCES``)."""
        self.range_figures = Figures(limit=RANGE_FIGURES_KEPT)
        """Range test figures by the ids of the tests they show: a stored range test
        never changes, so neither does its figure."""

    def close(self) -> None:
        self.background.close()
        self.database.close()

    def drawn_figure(self, study_id: int, name: str, version: str | None) -> bytes | None:
        """Figure ``name`` of study ``study_id`` drawn at ``version`` (a figure URL's
        ``?v=``) if it is in memory, else ``None``. Nothing is read from the database: a
        page's figures, once drawn, cost no query."""
        with self._lock:
            view = self._views.get(study_id)
        if version is None or not isinstance(view, StudyView):
            return None
        if name == IMPORTANCES:
            drawn = self.background.latest(study_id)
            return drawn.svg if drawn is not None and drawn.key == version else None
        return view.figures.get(name) if version == view.figures_version else None

    def importances(self, view: StudyView) -> Drawn | None:
        """The importances figure of ``view``'s study: drawn at its state or an earlier
        one, or ``None`` while none is; queues its state if it is not drawn yet."""
        return self.background.get(view.id, view.importances_version, view.report.study)

    def studies(self) -> list[dict[str, Any]]:
        """``study_summaries`` of every study, newest first (none before Optuna wrote)."""
        return study_summaries(self.database.studies)

    def range_test_groups(self) -> list[list[RangeTestSummary]]:
        """Stored range tests, newest first, those run together (one group) side by side."""
        groups: dict[str | int, list[RangeTestSummary]] = {}
        for summary in self.range_tests.list_range_tests():
            groups.setdefault(summary.group or summary.id, []).append(summary)
        return [sorted(group, key=lambda s: s.id) for group in groups.values()]

    def range_test_group(self, range_test_id: int) -> list[FinderResult]:
        """Range test ``range_test_id`` and the others of its group, in the order run."""
        _check_id(range_test_id, f"No range test with id {range_test_id} in {self.url}")
        result = self.range_tests.get_range_test(range_test_id)
        return [result] if result.group is None else self.range_tests.get_group(result.group)

    def study(self, study_id: int) -> View:
        """The current state of study ``study_id``: a ``StudyView`` for a study lrtune
        made, a ``RefineView`` for a refine run (see ``lrtune.refine``), an ``OptunaView``
        for any other; ``NotFoundError`` if there is none."""
        _check_id(study_id, f"No study with id {study_id} in {self.url}")
        storage = self.database.studies
        with study_errors(f"Cannot read study {study_id}"):
            try:
                name = storage.get_study_name_from_id(study_id)
            except KeyError:
                name = None
            if name is None:
                raise NotFoundError(f"No study with id {study_id} in {self.url}")
            snapshot = StudySnapshot(name, storage)
        return self._view(study_id, snapshot)

    def _view(self, study_id: int, snapshot: StudySnapshot) -> View:
        kind = study_kind(snapshot.user_attrs)
        version = refine_version(snapshot) if kind == STUDY_KIND else study_version(snapshot)
        with self._lock:
            view = self._views.get(study_id)
            if view is None or view.version != version:
                if kind == STUDY_KIND:
                    view = refine_view(study_id, version, snapshot)
                elif kind == OPTUNA_KIND:
                    view = OptunaView(study_id, snapshot.study_name, version, snapshot)
                else:
                    view = _study_view(study_id, version, snapshot, view)
                self._views[study_id] = view
            return view


def _check_id(given: int, message: str) -> None:
    """``NotFoundError`` for an id no database holds (negative, or past 64 bits)."""
    if not 0 <= given <= MAX_ID:
        raise NotFoundError(message)


def _study_view(
    study_id: int, version: str, snapshot: StudySnapshot, previous: View | None
) -> StudyView:
    drawn_at = figures_version(snapshot)
    same = isinstance(previous, StudyView) and previous.figures_version == drawn_at
    return StudyView(
        study_id,
        snapshot.study_name,
        version,
        StudyReport(snapshot, top=TOP_TRIALS),
        previous.drawn if same and isinstance(previous, StudyView) else Figures(),
        figures_version=drawn_at,
        importances_version=importances_version(snapshot),
        state=lrtune_state(snapshot),
    )


def _failed_importances(error: Exception) -> bytes:
    return placeholder("Importances could not be drawn: the dashboard's log has the details.")
