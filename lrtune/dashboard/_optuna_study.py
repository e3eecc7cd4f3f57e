"""A study lrtune did not create, as the dashboard shows it: read-only, in Optuna's terms.

Any Optuna study, single- or multi-objective: its directions and objective names, and
each trial's number, state, values, params, user attributes and duration. Its figures
are those that need nothing from lrtune: for one objective the history (and the
intermediate values, if any trial reported some); for two, the Pareto front.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import optuna
from optuna.trial import FrozenTrial, TrialState

from lrtune.report import (
    EpochCurves,
    History,
    ParetoPoints,
    StudyObjective,
    epoch_curves,
    history,
)
from lrtune.study import pareto_front, study_state

OPTUNA_KIND = "optuna"
"""``study_kind`` of a study lrtune did not create."""

HISTORY = "history"
INTERMEDIATE = "intermediate_values"
PARETO = "pareto_front"
OPTUNA_FIGURES = (HISTORY, INTERMEDIATE, PARETO)
"""Every figure a study lrtune did not create may have; ``OptunaView.figure_names`` says
which its own has."""

PARAM_PREFIX = "params."
USER_ATTR_PREFIX = "user_attrs."
CELL_CHARS = 120
"""A longer attribute is cut short in the page's table (whole in its ``title`` and JSON)."""


@dataclass
class OptunaView:
    """One state of a study lrtune did not create, and the figures drawn from it so far."""

    id: int
    name: str
    version: str
    study: optuna.Study = field(repr=False)
    """Read once (a ``StudySnapshot``): every property sees the same trials."""
    figures: dict[str, bytes] = field(default_factory=dict)

    @cached_property
    def directions(self) -> list[str]:
        return [d.name.lower() for d in self.study.directions]

    @cached_property
    def metric_names(self) -> list[str] | None:
        """As the study set them (``Study.set_metric_names``), else ``None``."""
        return self.study.metric_names

    @cached_property
    def trials(self) -> list[FrozenTrial]:
        return self.study.get_trials(deepcopy=False)

    @property
    def user_attrs(self) -> dict[str, Any]:
        return self.study.user_attrs

    @cached_property
    def objectives(self) -> list[str]:
        """The name of each objective: its metric name, else ``value`` (``values_0`` ..)."""
        if self.metric_names and len(self.metric_names) == len(self.directions):
            return list(self.metric_names)
        if len(self.directions) == 1:
            return ["value"]
        return [f"values_{i}" for i in range(len(self.directions))]

    @property
    def multi(self) -> bool:
        return len(self.directions) > 1

    @property
    def counts(self) -> dict[str, int]:
        counts = {state.name: 0 for state in TrialState}
        for trial in self.trials:
            counts[trial.state.name] += 1
        return counts

    @property
    def finished(self) -> int:
        return sum(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in self.trials)

    @property
    def state(self) -> str:
        return study_state([t.state for t in self.trials], self.finished, None)

    @cached_property
    def completed(self) -> list[FrozenTrial]:
        """The trials that completed with a finite value for each objective."""
        return [
            t
            for t in self.trials
            if t.state == TrialState.COMPLETE
            and t.values is not None
            and len(t.values) == len(self.directions)
            and all(math.isfinite(v) for v in t.values)
        ]

    @cached_property
    def pareto(self) -> list[int]:
        """The numbers of the trials on the Pareto front (for several objectives)."""
        if not self.multi:
            return []
        completed = self.completed
        values = [list(t.values) for t in completed]
        return [completed[i].number for i in pareto_front(values, self.directions)]

    @property
    def best(self) -> FrozenTrial | None:
        """The best completed trial of a single-objective study."""
        if self.multi or not self.completed:
            return None
        pick = max if self.directions[0] == "maximize" else min
        return pick(self.completed, key=lambda t: t.values[0])

    @property
    def figure_names(self) -> list[str]:
        if len(self.directions) == 2:
            return [PARETO]
        if self.multi:
            return []
        reported = any(t.intermediate_values for t in self.trials)
        return [HISTORY, INTERMEDIATE] if reported else [HISTORY]

    @property
    def params(self) -> list[str]:
        return _names(t.params for t in self.trials)

    @property
    def attrs(self) -> list[str]:
        return _names(t.user_attrs for t in self.trials)

    @property
    def columns(self) -> list[str]:
        """The trial table's columns (``rows`` holds one list of values per trial)."""
        return [
            "number",
            "state",
            *self.objectives,
            *(["pareto"] if self.multi else []),
            *(PARAM_PREFIX + name for name in self.params),
            *(USER_ATTR_PREFIX + name for name in self.attrs),
            "datetime_start",
            "duration_s",
        ]

    @property
    def rows(self) -> list[list[Any]]:
        front = set(self.pareto)
        params, attrs = self.params, self.attrs
        rows = []
        for trial in self.trials:
            values = list(trial.values or [])
            values += [None] * (len(self.directions) - len(values))
            rows.append(
                [
                    trial.number,
                    trial.state.name,
                    *values,
                    *([trial.number in front] if self.multi else []),
                    *(trial.params.get(name) for name in params),
                    *(trial.user_attrs.get(name) for name in attrs),
                    trial.datetime_start,
                    _duration(trial),
                ]
            )
        return rows

    def objective(self) -> StudyObjective:
        """The single objective's name and direction, for the history figures."""
        (name,), (direction,) = self.objectives, self.directions
        return StudyObjective(name, "maximize" if direction == "maximize" else "minimize")

    def history(self) -> History:
        return history(self.study)._replace(objective=self.objective())

    def curves(self) -> EpochCurves:
        return epoch_curves(self.study)._replace(objective=self.objective())

    def pareto_points(self) -> ParetoPoints:
        completed = self.completed
        front = set(self.pareto)
        return ParetoPoints(
            [t.number for t in completed],
            [[float(v) for v in t.values] for t in completed],
            [t.number in front for t in completed],
            self.objectives,
            self.directions,
        )

    def figure(self, name: str, draw: Callable[[OptunaView], bytes]) -> bytes:
        if name not in self.figures:
            self.figures[name] = draw(self)
        return self.figures[name]


def cell(value: Any) -> str:
    """A table cell's text: numbers in three significant digits, anything else as JSON."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)


def short(text: str) -> str:
    """``text`` cut to ``CELL_CHARS``."""
    return text if len(text) <= CELL_CHARS else text[: CELL_CHARS - 1] + "…"


def _names(mappings: Any) -> list[str]:
    """Every key of ``mappings``, in the order first seen."""
    names: dict[str, None] = {}
    for mapping in mappings:
        names.update(dict.fromkeys(mapping))
    return list(names)


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()
