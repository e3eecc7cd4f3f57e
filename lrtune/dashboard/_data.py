"""What the dashboard reads, opened read-only, with each study's figures kept per state.

A study's state (``version``) is a digest of its trials' numbers, states and reported
epochs (and, for a refine run, of whether it wrote its result). While it is unchanged,
every request reuses the same ``StudyReport`` (or ``RefineView``); a running study's page
polls the digest and shows what moved.

A study's figures are drawn in the background (``BackgroundFigures``, in worker
processes) as soon as a request sees the study in a new state, and again only when a
trial was added or ended (``figures_version``): a reported epoch keeps the drawings.
Parameter importances depend only on the completed trials (``importances_version``).
Until a figure is drawn at the study's state, its request gets the latest drawing of an
earlier state, or a placeholder, at once; the page swaps the drawing in when it is ready.

A study lrtune made is read twice, apart. Its page (the version, the summary, the trial
table) reads ``LightTrial`` objects: no parameters, no intermediate values (their count)
and none of the per-epoch attributes (``PER_EPOCH_ATTRS``), which it does not show: a
quarter to a third of a full read's time (``read_light_trials``). Its figures' numbers
come from the study read in full (``StudyView.report``) by the background, when the
first figure's turn comes, not by a request; they may so show a state a little newer
than the one their version names (the next request that sees it has them drawn again).
"""

from __future__ import annotations

import copy
import hashlib
import threading
import time
from collections.abc import Callable, Container
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Generic, TypeVar

import optuna
from optuna.trial import FrozenTrial, TrialState

from lrtune._collector import collector_paused
from lrtune._exceptions import NotFoundError
from lrtune.dashboard._background import BackgroundFigures, Requests
from lrtune.dashboard._drawing import IMPORTANCES, draw_figure, drawing_pool, worker_count
from lrtune.dashboard._figures import placeholder
from lrtune.dashboard._optuna_study import OPTUNA_KIND, OptunaView
from lrtune.dashboard._refine import RefineView, refine_view
from lrtune.finder import FinderResult
from lrtune.refine import STUDY_KIND
from lrtune.report import (
    PER_EPOCH_ATTRS,
    STUDY_FIGURES,
    StudyReport,
    configured_trials,
    importance_inputs,
)
from lrtune.storage import (
    Database,
    LightTrial,
    RangeTestSummary,
    light_studies,
    study_errors,
    study_facts,
)
from lrtune.study import (
    ATTR,
    BETWEEN_TRIALS_S,
    REFINE_RESULT_ATTRS,
    study_kind,
    summaries,
    trials_state,
)

TOP_TRIALS = 5
"""How many of the best trials the top-trials figure shows, as ``lrtune report``'s default."""

MAX_ID = 2**63 - 1
"""The largest id a database column holds: any larger is no study and no range test."""

RANGE_FIGURES_KEPT = 64
"""How many range test figures (about 100 KiB each) the dashboard keeps in memory."""

Made = TypeVar("Made")

PENDING = "pending"
"""A figure's version (its URL's ``?v=``) until it is first drawn: its placeholder."""

FIGURE_WAIT_S = 120.0
"""How long a figure's request without a version (or with one not drawn) waits for the
study's current state to be drawn, before it gets the latest drawing or a placeholder."""


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
    return [(t.number, t.state.value, _steps(t)) for t in trials]


def _steps(trial: FrozenTrial) -> int:
    """How many intermediate values ``trial`` reported (a ``LightTrial`` counts them)."""
    return trial.steps if isinstance(trial, LightTrial) else len(trial.intermediate_values)


def _digest(marks: object) -> str:
    return hashlib.sha1(repr(marks).encode()).hexdigest()[:12]


class Figures(Generic[Made]):
    """Figures (or other answers) made by name, each made once: a request for one that
    another request is making waits for it rather than making its own.

    Args:
        limit: Keep at most this many (the oldest made is forgotten first); ``None``: all.
    """

    def __init__(self, limit: int | None = None) -> None:
        self.drawn: dict[str, Made] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._limit = limit

    def get(self, name: str, draw: Callable[[], Made]) -> Made:
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
    """One state of one study: its page's data, its figures' data (read on first use) and
    the figures drawn from it so far."""

    id: int
    name: str
    version: str
    page: StudyReport
    """Of the page's read (``LightTrial`` objects): the summary, the trial table (no
    per-epoch columns) and the placeholders."""
    read: Callable[[], StudySnapshot] = field(repr=False)
    """Reads the study in full, for ``report``."""
    figures_version: str = ""
    """``figures_version``: what the page's figures are drawn at."""
    importances_version: str = ""
    """``importances_version``: the state importances are drawn at."""
    state: str = "new"
    """``lrtune_state``: ``"running"`` between two trials too."""
    answers: Figures[Any] = field(default_factory=Figures)
    """Answers other than figures made from this state (the trial table's JSON, the
    study's summary)."""

    @cached_property
    def report(self) -> StudyReport:
        """The figures' data, of the study read in full (``read``) on first use: by the
        background, which computes the figures' numbers."""
        with collector_paused():
            return StudyReport(self.read(), top=TOP_TRIALS)

    def figure_keys(self) -> dict[str, str]:
        """The state each figure is drawn at: ``figures_version``, and for the
        importances ``importances_version``."""
        keys = dict.fromkeys(STUDY_FIGURES, self.figures_version)
        keys[IMPORTANCES] = self.importances_version
        return keys

    def figure_inputs(self, name: str) -> tuple[Any, ...]:
        """Figure ``name``'s numbers, as ``draw_figure`` takes them."""
        if name == IMPORTANCES:  # computed where the figure is drawn: they take a while
            return (importance_inputs(self.report.study),)
        return STUDY_FIGURES[name].data(self.report)


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
        self._page_studies: optuna.storages.BaseStorage | None = None
        self._marked: dict[int, str | None] = {}
        """The study's marks (``_marks``) when its view was made."""
        self._lock = threading.Lock()
        self.requests = Requests()
        """The requests being answered now (counted by the app), which the background's
        work waits for."""
        self.background = BackgroundFigures(
            draw_figure, _failed_figure, drawing_pool, worker_count(), self.requests
        )
        """Where the studies' figures are drawn."""
        self.range_figures: Figures[bytes] = Figures(limit=RANGE_FIGURES_KEPT)
        """Range test figures by the ids of the tests they show: a stored range test
        never changes, so neither does its figure."""

    def close(self) -> None:
        self.background.close()
        self.database.close()

    def drawn_figure(self, study_id: int, name: str, version: str | None) -> bytes | None:
        """Figure ``name`` of study ``study_id`` as the page named it (a figure URL's
        ``?v=``), if that needs no read: its drawing at ``version``; for ``PENDING``, the
        latest drawing or a placeholder. Else ``None``. Nothing is read from the
        database: a page's figures, drawn or not, cost no query."""
        with self._lock:
            view = self._views.get(study_id)
        if version is None or not isinstance(view, StudyView) or name not in STUDY_FIGURES:
            return None
        drawn = self.background.latest(study_id, name)
        if drawn is not None and (drawn.key == version or version == PENDING):
            return drawn.svg
        return _placeholder(view, name) if version == PENDING else None

    def study_figure(self, view: StudyView, name: str) -> bytes:
        """Figure ``name`` of ``view``'s study at its state, once drawn (the importances:
        the latest drawing, or a placeholder, at once)."""
        key = view.figure_keys()[name]
        if name == IMPORTANCES:
            drawn = self.background.latest(view.id, name)
        else:
            with self.requests.waiting():
                drawn = self.background.wait(view.id, name, key, FIGURE_WAIT_S)
        return _placeholder(view, name) if drawn is None else drawn.svg

    def figure_versions(self, view: StudyView) -> dict[str, str]:
        """Each figure's version, as its URL carries it (``?v=``): the state it was last
        drawn at, ``PENDING`` until it first is."""
        drawn = {name: self.background.latest(view.id, name) for name in STUDY_FIGURES}
        return {name: PENDING if d is None else d.key for name, d in drawn.items()}

    def wait_drawn(self, study_id: int, timeout_s: float) -> bool:
        """Wait (at most ``timeout_s``) until every figure of the state last seen of study
        ``study_id`` is drawn; whether they are (a study not seen, or of another kind,
        has none to wait for)."""
        with self._lock:
            view = self._views.get(study_id)
        if not isinstance(view, StudyView):
            return True
        deadline = time.monotonic() + timeout_s
        for name, key in view.figure_keys().items():
            self.background.wait(study_id, name, key, max(0.0, deadline - time.monotonic()))
        return not self.drawing(view)

    def drawing(self, view: StudyView) -> list[str]:
        """The figures not drawn at ``view``'s state yet, in the page's order."""
        versions = self.figure_versions(view)
        return [name for name, key in view.figure_keys().items() if versions[name] != key]

    def studies(self) -> list[dict[str, Any]]:
        """``summaries`` of every study, newest first (none before Optuna wrote): read
        with a few aggregate statements, not trial by trial."""
        assert self.database.engine is not None  # a read-only database has an engine
        return summaries(study_facts(self.database.engine))

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
            marks = self._marks(study_id)
            with self._lock:
                kept = self._views.get(study_id)
                if marks is not None and kept is not None and self._marked[study_id] == marks:
                    return kept  # nothing moved: not a trial read
            try:
                name = storage.get_study_name_from_id(study_id)
            except KeyError:
                name = None
            if name is None:
                raise NotFoundError(f"No study with id {study_id} in {self.url}")
            kind = study_kind(storage.get_study_user_attrs(study_id))
            with collector_paused():
                snapshot = StudySnapshot(name, self._reader_of(kind))
        with collector_paused():
            view = self._view(study_id, snapshot)
        with self._lock:
            self._marked[study_id] = marks
        return view

    def _reader_of(self, kind: str) -> optuna.storages.BaseStorage:
        """Where the page of a study of ``kind`` reads it: a study lrtune made, as
        ``LightTrial`` objects without ``PER_EPOCH_ATTRS`` (a trial cache of its own); a
        refine run or another Optuna study, in full (their pages show every epoch)."""
        storage = self.database.studies
        if kind in (STUDY_KIND, OPTUNA_KIND):
            return storage
        with self._lock:
            if self._page_studies is None:
                self._page_studies = light_studies(storage, PER_EPOCH_ATTRS) or storage
            return self._page_studies

    def _read_in_full(self, name: str) -> Callable[[], StudySnapshot]:
        """Reads study ``name`` in full (its figures' numbers)."""
        return lambda: StudySnapshot(name, self.database.studies)

    def _marks(self, study_id: int) -> str | None:
        """What ``study_marks`` says of the study, and whether its last trial ended too
        recently for it to read stopped (``BETWEEN_TRIALS_S``): if both are as when it was
        last read, its view is unchanged. ``None`` if there is no such study."""
        found = self.database.study_marks(study_id)
        if found is None:
            return None
        since = found.seconds_since_end()
        return f"{found.digest}:{since is not None and 0 <= since < BETWEEN_TRIALS_S}"

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
                    read = self._read_in_full(snapshot.study_name)
                    view = _study_view(study_id, version, snapshot, read)
                    self._draw(view)
                self._views[study_id] = view
            return view

    def _draw(self, view: StudyView) -> None:
        """Queue ``view``'s figures not drawn at its state yet, in the page's order."""
        figures = {
            name: (key, lambda name=name: view.figure_inputs(name))
            for name, key in view.figure_keys().items()
        }
        self.background.want(view.id, figures)


def _check_id(given: int, message: str) -> None:
    """``NotFoundError`` for an id no database holds (negative, or past 64 bits)."""
    if not 0 <= given <= MAX_ID:
        raise NotFoundError(message)


def _study_view(
    study_id: int, version: str, snapshot: StudySnapshot, read: Callable[[], StudySnapshot]
) -> StudyView:
    return StudyView(
        study_id,
        snapshot.study_name,
        version,
        StudyReport(snapshot, top=TOP_TRIALS, per_epoch=False),
        read,
        figures_version=figures_version(snapshot),
        importances_version=importances_version(snapshot),
        state=lrtune_state(snapshot),
    )


def _failed_figure(error: Exception) -> bytes:
    return placeholder("This figure could not be drawn: the dashboard's log has the details.")


def _placeholder(view: StudyView, name: str) -> bytes:
    """What a figure shows until it is first drawn."""
    if name == IMPORTANCES:
        completed = len(view.page.history.numbers)
        return placeholder(f"Computing the importances of {completed:,} completed trials…")
    trials = len(view.page.study.get_trials(deepcopy=False))
    return placeholder(f"Drawing this figure of {trials:,} trials…")
