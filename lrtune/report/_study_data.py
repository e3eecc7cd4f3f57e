"""A study's trials as plain data: one frame, the history, the best per group, the top
trials, parameter importances, parallel coordinates, slices, the intermediate values of
every trial and the timeline of trials by worker. Nothing here draws; ``_study_plots`` does.

Columns of ``trials_frame`` (one row per trial, in trial-number order):

- ``number``, ``state`` (``"COMPLETE"``, ``"PRUNED"``, ``"FAIL"``, ...), ``value`` (as
  Optuna stores it: a pruned trial keeps its last reported value, a failed one has none);
- ``optimizer``, ``lr``, ``schedule``, ``warmup_ratio`` (from the trial's configuration);
- ``opt.<name>`` for each optimizer option (``opt.weight_decay``) and ``sched.<name>`` for
  each schedule parameter (``sched.eta_min_ratio``); a trial whose families lack one is
  empty there. Options of the same name share a column (SGD's and RMSprop's ``momentum``);
- ``params.<name>`` for each of Optuna's own parameters of a trial lrtune did not run
  (every trial of a plain Optuna study): such a trial has no configuration;
- ``epochs_run``, ``pruned_reason``, ``warm_start``, ``seed``, ``host``, ``device``,
  ``datetime_start``, ``duration_s``;
- ``val_loss_1`` .. ``val_loss_N``, then ``val_metric_1`` .. ``val_metric_N`` when the task
  has a metric, then ``lr_1`` .. ``lr_N`` (each epoch's mean learning rate), where ``N`` is
  the study's number of epochs (or the most any trial recorded).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any, NamedTuple

import numpy as np
import optuna
import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState

from lrtune._checks import is_int
from lrtune._exceptions import StudyError
from lrtune._optuna import experimental_ok
from lrtune.study import ATTR, read_settings
from lrtune.tasks import Direction

OPTIMIZER_PREFIX = "opt."
"""Prefix of the frame's optimizer-option columns (``opt.weight_decay``)."""
SCHEDULE_PREFIX = "sched."
"""Prefix of the frame's schedule-parameter columns (``sched.eta_min_ratio``)."""
PARAM_PREFIX = "params."
"""Prefix of the frame's columns of Optuna's own parameters, for trials lrtune did not
run (a plain Optuna study's ``params.x``), as Optuna's ``trials_dataframe`` names them."""
DIRECTIONS: tuple[Direction, ...] = ("minimize", "maximize")

TRIAL_COLUMNS = (
    "number",
    "state",
    "value",
    "optimizer",
    "lr",
    "schedule",
    "warmup_ratio",
    "epochs_run",
    "pruned_reason",
    "warm_start",
    "seed",
    "host",
    "device",
    "datetime_start",
    "duration_s",
)
"""The leading columns of ``trials_frame``, before the options and per-epoch columns."""
PER_EPOCH_ATTRS = ("val_losses", "val_metrics", "lrs")
"""A trial's user attributes that record each epoch (most of what it stores): only the
frame's per-epoch columns and the top trials read them. The dashboard's page reads its
trials without them (``StudyReport(per_epoch=False)``)."""
_TYPES = {
    **dict.fromkeys(("number", "epochs_run", "seed"), "Int64"),
    **dict.fromkeys(("value", "lr", "warmup_ratio", "duration_s"), "float64"),
}


class StudyObjective(NamedTuple):
    """What a study's values measure: ``"val_loss"``, the metric's name, or ``"value"``."""

    name: str
    direction: Direction


class History(NamedTuple):
    """Completed trials in the order they were numbered, and the best value so far."""

    numbers: list[int]
    values: list[float]
    best: list[float]
    objective: StudyObjective


class TopTrial(NamedTuple):
    """One of the best trials: its objective and learning rate per epoch (from epoch 1)."""

    number: int
    value: float
    label: str
    epochs: list[int]
    values: list[float]
    lr_mean: list[float]
    lr_low: list[float]
    lr_high: list[float]


class EpochCurves(NamedTuple):
    """Every trial's objective per epoch (Optuna's intermediate values), by trial number.

    ``states`` holds each trial's state name; ``best`` is the best completed trial's number
    (``None`` if it reported no value per epoch).
    """

    numbers: list[int]
    states: list[str]
    epochs: list[list[int]]
    values: list[list[float]]
    best: int | None
    objective: StudyObjective


class Importances(NamedTuple):
    """Parameter importances (summing to 1, largest first), or why there are none;
    the ``method`` (a key of ``IMPORTANCE_METHODS``) and how many completed trials."""

    values: dict[str, float]
    reason: str | None
    method: str = "ped_anova"
    trials: int = 0


IMPORTANCE_METHODS: dict[str, Callable[[], optuna.importance.BaseImportanceEvaluator]] = {
    "ped_anova": lambda: optuna.importance.PedAnovaImportanceEvaluator(),
    "fanova": lambda: optuna.importance.FanovaImportanceEvaluator(seed=0),
}
"""Optuna's importance evaluators by name. PED-ANOVA is the default: on the dashboard
benchmark's studies it takes a tenth of a second where fANOVA takes seconds
(benchmarks/README.md, "Dashboard speed", has both, and how their rankings agree)."""
IMPORTANCE_LABELS = {"ped_anova": "PED-ANOVA", "fanova": "fANOVA"}
FEW_TRIALS = 10
"""Importances from fewer completed trials than this are said to be a rough guide."""
DEFAULT_IMPORTANCE = "ped_anova"


class ParallelCoordinates(NamedTuple):
    """The completed trials on parallel axes: each parameter of ``uniform_params``, then
    the objective. ``columns`` holds each axis's values scaled to [0, 1] (a categorical
    at its choice's index over the sorted choices), ``ticks`` each axis's labelled
    positions; ``values`` the objective of each trial (for colour)."""

    names: list[str]
    columns: list[list[float]]
    ticks: list[list[tuple[float, str]]]
    numbers: list[int]
    values: list[float]
    objective: StudyObjective


class ParamSlice(NamedTuple):
    """One parameter's value in each completed trial; a categorical's value is its
    choice's index in ``choices``."""

    name: str
    x: list[float]
    choices: list[str] | None


class Slices(NamedTuple):
    """The objective of each completed trial against each parameter of ``uniform_params``."""

    params: list[ParamSlice]
    numbers: list[int]
    values: list[float]
    objective: StudyObjective


class IntermediateGrid(NamedTuple):
    """Every trial's intermediate values as a grid: ``values[i][j]`` is trial
    ``numbers[i]``'s value at step ``steps[j]`` (NaN where it reported none, and for a
    trial that reported nothing: every trial has its row, so rows follow trial numbers)."""

    numbers: list[int]
    steps: list[int]
    values: list[list[float]]
    objective: StudyObjective


class Timeline(NamedTuple):
    """Every started trial by worker: ``workers`` names each worker (host, device, GPU);
    ``rows[i]`` is trial ``numbers[i]``'s worker, ``starts[i]``..``ends[i]`` its run
    (a running trial's end is ``now``), ``states[i]`` its state's name."""

    workers: list[str]
    numbers: list[int]
    rows: list[int]
    starts: list[datetime]
    ends: list[datetime]
    states: list[str]


def study_objective(study: optuna.Study) -> StudyObjective:
    """The objective's name and direction (``"value"`` for a study lrtune did not create)."""
    direction: Direction = "maximize" if study.direction == StudyDirection.MAXIMIZE else "minimize"
    if ATTR not in study.user_attrs:
        return StudyObjective("value", direction)
    settings = read_settings(study)
    metric = settings.metric if settings.objective == "metric" else None
    return StudyObjective(metric or "val_loss", direction)


def trials_frame(study: optuna.Study, *, per_epoch: bool = True) -> pd.DataFrame:
    """One row per trial; the columns are described in this module's docstring (without
    the per-epoch ones unless ``per_epoch``)."""
    return typed_frame(trial_records(study, per_epoch=per_epoch))


class TrialRecords(NamedTuple):
    """``trials_frame``'s columns and rows before pandas types them: one dict per trial,
    in trial-number order, of the values its trial holds (a trial lacks the columns of
    the options its families do not have)."""

    columns: list[str]
    rows: list[dict[str, Any]]


def trial_records(study: optuna.Study, *, per_epoch: bool = True) -> TrialRecords:
    """``trials_frame``'s rows as plain values (see ``TrialRecords``)."""
    trials = study.get_trials(deepcopy=False)
    epochs = _epoch_count(study, trials) if per_epoch else 0
    rows = [_row(trial, epochs) for trial in trials]
    return TrialRecords(_columns(rows, epochs), rows)


def typed_frame(records: TrialRecords) -> pd.DataFrame:
    """``records`` as ``trials_frame`` types them."""
    frame = pd.DataFrame(records.rows, columns=records.columns)
    return frame.astype({**_TYPES, **_flag_types(frame)})


def check_has_trials(study: optuna.Study) -> None:
    """Refuse a study that holds no trial at all (one whose creation failed, say): a
    report of it would be empty figures.

    Raises:
        lrtune.StudyError: ``study`` has no trial.
    """
    if not study.get_trials(deepcopy=False):
        raise StudyError(
            f"Study {study.study_name!r} has no trials: nothing to show until one has run."
        )


def completed_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The trials that completed with a finite value, by number."""
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    return [t for t in trials if t.value is not None and math.isfinite(t.value)]


def history(study: optuna.Study) -> History:
    """The completed trials' values and the best so far in the study's direction."""
    objective = study_objective(study)
    trials = completed_trials(study)
    values = [float(t.value) for t in trials if t.value is not None]
    accumulate = np.minimum if objective.direction == "minimize" else np.maximum
    best = accumulate.accumulate(values).tolist() if values else []
    return History([t.number for t in trials], values, best, objective)


OUTLIER_SPREAD = 5.0
"""``history_scale`` turns logarithmic when the values span this many times the width
of their middle 80 %: a few diverged trials would squash the rest on a linear axis."""


def history_scale(values: Sequence[float]) -> str:
    """``"log"`` for positive values with outliers far above the rest, else ``"linear"``."""
    finite = np.asarray([v for v in values if math.isfinite(v)], dtype=np.float64)
    if len(finite) < 3 or axis_scale(finite.tolist()) != "log":
        return "linear"
    low, high = np.percentile(finite, [10, 90])
    spread = float(finite.max() - finite.min())
    return "log" if spread > OUTLIER_SPREAD * float(high - low) else "linear"


def best_by(frame: pd.DataFrame, column: str, direction: Direction) -> pd.DataFrame:
    """The best completed trial of each ``column`` group of ``trials_frame`` output.

    Indexed by the group (``"adamw"``), best first; columns ``best`` (value), ``trial``
    (its number), ``complete``, ``pruned`` and ``trials`` (counts of every state). Groups
    with no completed trial come last, with no best.
    """
    _check_direction(direction)
    if column not in frame.columns:
        raise ValueError(f"column must be one of the frame's columns, but got {column=}.")
    complete = frame[(frame["state"] == "COMPLETE") & frame["value"].notna()]
    ranked = complete.sort_values("value", ascending=direction == "minimize", kind="stable")
    best = ranked.drop_duplicates(column).set_index(column)
    counts = pd.crosstab(frame[column], frame["state"])
    table = pd.DataFrame(
        {
            "best": best["value"],
            "trial": best["number"],
            "complete": _count(counts, "COMPLETE"),
            "pruned": _count(counts, "PRUNED"),
            "trials": counts.sum(axis=1),
        },
        index=counts.index,
    )
    table = table.sort_values("best", ascending=direction == "minimize", na_position="last")
    return table.astype({"trial": "Int64"}).rename_axis(column)


def top_trials(study: optuna.Study, k: int) -> list[TopTrial]:
    """The ``k`` best completed trials, best first, with their per-epoch record."""
    if not is_int(k) or k < 1:
        raise ValueError(f"k must be a positive integer, but got {k=}.")
    reverse = study_objective(study).direction == "maximize"
    ranked = sorted(completed_trials(study), key=lambda t: float(t.value or 0), reverse=reverse)
    return [_top_trial(trial) for trial in ranked[:k]]


def axis_scale(values: Iterable[float]) -> str:
    """``"log"`` for values that are all finite and positive (at least one), else
    ``"linear"``: a log axis cannot show zero or a negative value."""
    finite = [float(v) for v in values if math.isfinite(v)]
    return "log" if finite and min(finite) > 0 else "linear"


def epoch_curves(study: optuna.Study) -> EpochCurves:
    """The per-epoch validation curve of every trial that reported one."""
    objective = study_objective(study)
    trials = [t for t in study.get_trials(deepcopy=False) if t.intermediate_values]
    # intermediate_values may not be sorted, so order the epochs explicitly.
    epochs = [sorted(t.intermediate_values) for t in trials]
    values = [
        [t.intermediate_values[e] for e in steps] for t, steps in zip(trials, epochs, strict=True)
    ]
    completed = completed_trials(study)
    pick = min if objective.direction == "minimize" else max
    best = pick(completed, key=lambda t: float(t.value or 0)).number if completed else None
    numbers = [t.number for t in trials]
    best = best if best in numbers else None  # a trial added by hand has no curve
    states = [t.state.name for t in trials]
    return EpochCurves(numbers, states, epochs, values, best, objective)


def configured_trials(study: optuna.Study) -> list[FrozenTrial]:
    """The completed trials with a finite value that hold lrtune's ``config``, by number."""
    return [t for t in completed_trials(study) if "config" in t.user_attrs]


def importances(study: optuna.Study, *, method: str = DEFAULT_IMPORTANCE) -> Importances:
    """Importances (``method``: a key of ``IMPORTANCE_METHODS``) of optimizer, schedule,
    log10 of the LR and warmup ratio.

    Optuna's own parameter names are conditional (``adamw.lr`` exists only in AdamW
    trials), so the completed trials are copied into an in-memory study where every
    trial has the same four parameters. Parameters no trial varied are left out.
    """
    return importances_of(importance_inputs(study), method=method)


class ImportanceInputs(NamedTuple):
    """What ``importances`` computes from: ``uniform_params`` of the completed trials
    (``configured_trials``) and their values. Plain data, cheap to send to another process."""

    columns: dict[str, list[Any]]
    values: list[float]


def importance_inputs(study: optuna.Study) -> ImportanceInputs:
    trials = configured_trials(study)
    return ImportanceInputs(uniform_params(trials), [float(t.value or 0) for t in trials])


def importances_of(inputs: ImportanceInputs, *, method: str = DEFAULT_IMPORTANCE) -> Importances:
    """``importances`` from ``importance_inputs``."""
    if method not in IMPORTANCE_METHODS:
        raise ValueError(f"method must be one of {tuple(IMPORTANCE_METHODS)}, but got {method=}.")
    found, reason = _importances(inputs, method)
    return Importances(found, reason, method, len(inputs.values))


def importances_caveat(info: Importances) -> str | None:
    """What the figure should warn of: importances from fewer than ``FEW_TRIALS``."""
    if info.values and info.trials < FEW_TRIALS:
        return f"From only {info.trials} completed trials: a rough guide."
    return None


def _importances(inputs: ImportanceInputs, method: str) -> tuple[dict[str, float], str | None]:
    if len(inputs.values) < 2:
        return {}, f"Importances need 2 completed trials; the study has {len(inputs.values)}."
    varied = {name: values for name, values in inputs.columns.items() if len(set(values)) > 1}
    if not varied:
        return {}, "Every completed trial used the same optimizer, schedule, LR and warmup."
    if len(set(inputs.values)) < 2:
        return {}, "Every completed trial reached the same value."
    proxy = _proxy_study(inputs.values, varied)
    try:
        with experimental_ok():
            evaluator = IMPORTANCE_METHODS[method]()
            found = optuna.importance.get_param_importances(proxy, evaluator=evaluator)
    except (ValueError, RuntimeError) as error:
        return {}, f"Optuna could not compute importances: {error}"
    return {name: float(value) for name, value in found.items()}, None


def parallel_coordinates(study: optuna.Study) -> ParallelCoordinates:
    """``ParallelCoordinates`` of the completed trials (``configured_trials``)."""
    objective = study_objective(study)
    trials = configured_trials(study)
    values = [float(t.value) for t in trials if t.value is not None]
    axes = {**uniform_params(trials), objective.name: values} if trials else {}
    scaled = [_scaled(column) for column in axes.values()]
    return ParallelCoordinates(
        list(axes),
        [column for column, _ in scaled],
        [ticks for _, ticks in scaled],
        [t.number for t in trials],
        values,
        objective,
    )


def slices(study: optuna.Study) -> Slices:
    """``Slices`` of the completed trials (``configured_trials``)."""
    trials = configured_trials(study)
    params = [_param_slice(name, column) for name, column in uniform_params(trials).items()]
    values = [float(t.value) for t in trials if t.value is not None]
    return Slices(
        params if trials else [], [t.number for t in trials], values, study_objective(study)
    )


def intermediate_grid(study: optuna.Study) -> IntermediateGrid:
    """The grid of every trial's intermediate values; empty if no trial reported one."""
    trials = study.get_trials(deepcopy=False)
    steps = sorted({step for t in trials for step in t.intermediate_values})
    if not steps:
        return IntermediateGrid([], [], [], study_objective(study))
    grid = [[_finite(t.intermediate_values.get(step)) for step in steps] for t in trials]
    return IntermediateGrid([t.number for t in trials], steps, grid, study_objective(study))


def timeline(study: optuna.Study, *, now: datetime | None = None) -> Timeline:
    """When each started trial ran and on which worker (``worker_label``); a running
    trial ends at ``now`` (the current time: Optuna's times are naive local times)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_start is not None]
    labels = [worker_label(t.user_attrs) for t in trials]
    workers = sorted(set(labels))
    end = now or datetime.now()
    return Timeline(
        workers,
        [t.number for t in trials],
        [workers.index(label) for label in labels],
        [t.datetime_start for t in trials if t.datetime_start is not None],
        [t.datetime_complete or end for t in trials],
        [t.state.name for t in trials],
    )


def worker_label(attrs: Mapping[str, Any]) -> str:
    """``host / device (gpu)`` from a trial's user attributes; ``"?"`` for what is missing."""
    label = f"{attrs.get('host') or '?'} / {attrs.get('device') or '?'}"
    return f"{label} ({attrs['gpu']})" if attrs.get("gpu") else label


class StudyReport:
    """The data behind each of a study's figures, computed on first use and then kept.

    One read of the study serves every figure; the dashboard keeps one per study state.

    Args:
        study: The study.
        top: How many of the best trials ``tops`` holds.
        per_epoch: Whether the ``frame`` has the per-epoch columns: not for a study whose
            trials were read without ``PER_EPOCH_ATTRS`` (the dashboard's page).
    """

    def __init__(self, study: optuna.Study, *, top: int = 5, per_epoch: bool = True) -> None:
        self.study = study
        self.top = top
        self.per_epoch = per_epoch

    @cached_property
    def objective(self) -> StudyObjective:
        return study_objective(self.study)

    @cached_property
    def records(self) -> TrialRecords:
        return trial_records(self.study, per_epoch=self.per_epoch)

    @cached_property
    def frame(self) -> pd.DataFrame:
        return typed_frame(self.records)

    @cached_property
    def history(self) -> History:
        return history(self.study)

    @cached_property
    def curves(self) -> EpochCurves:
        return epoch_curves(self.study)

    @cached_property
    def by_optimizer(self) -> pd.DataFrame:
        return best_by(self.frame, "optimizer", self.objective.direction)

    @cached_property
    def by_schedule(self) -> pd.DataFrame:
        return best_by(self.frame, "schedule", self.objective.direction)

    @cached_property
    def tops(self) -> list[TopTrial]:
        return top_trials(self.study, self.top)

    @cached_property
    def importances(self) -> Importances:
        return importances(self.study)

    @cached_property
    def parallel(self) -> ParallelCoordinates:
        return parallel_coordinates(self.study)

    @cached_property
    def slices(self) -> Slices:
        return slices(self.study)

    @cached_property
    def intermediate(self) -> IntermediateGrid:
        return intermediate_grid(self.study)

    @cached_property
    def timeline(self) -> Timeline:
        return timeline(self.study)


def _check_direction(direction: str) -> None:
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, but got {direction=}.")


def _epoch_count(study: optuna.Study, trials: Iterable[FrozenTrial]) -> int:
    recorded = [len(t.user_attrs.get(key) or ()) for t in trials for key in ("val_losses", "lrs")]
    planned = read_settings(study).epochs if ATTR in study.user_attrs else 0
    return max([planned, *recorded])


def _row(trial: FrozenTrial, epochs: int) -> dict[str, Any]:
    attrs = trial.user_attrs
    config = attrs.get("config") or {}
    row = {
        "number": trial.number,
        "state": trial.state.name,
        "value": trial.value,
        **{key: config.get(key) for key in ("optimizer", "lr", "schedule", "warmup_ratio")},
        "epochs_run": attrs.get("epochs_run"),
        "pruned_reason": attrs.get("pruned_reason"),
        "warm_start": bool(attrs.get("warm_start", False)),
        **{key: attrs.get(key) for key in ("seed", "host", "device")},
        "datetime_start": trial.datetime_start,
        "duration_s": _duration(trial),
    }
    if not config:  # lrtune's trials name their params by family ("adamw.lr"): not these
        row |= _prefixed(PARAM_PREFIX, trial.params)
    row |= _prefixed(OPTIMIZER_PREFIX, config.get("optimizer_params") or {})
    row |= _prefixed(SCHEDULE_PREFIX, config.get("schedule_params") or {})
    if not epochs:
        return row
    row |= _per_epoch("val_loss", attrs.get("val_losses"), epochs)
    if "val_metrics" in attrs:
        row |= _per_epoch("val_metric", attrs["val_metrics"], epochs)
    lrs = attrs.get("lrs") or []
    return row | _per_epoch("lr", [lr[0] if lr else None for lr in lrs], epochs)


def _columns(rows: Sequence[Mapping[str, Any]], epochs: int) -> list[str]:
    names = {name for row in rows for name in row}
    per_epoch = ["val_loss"] + (["val_metric"] if "val_metric_1" in names else []) + ["lr"]
    return [
        *TRIAL_COLUMNS,
        *sorted(n for n in names if n.startswith(OPTIMIZER_PREFIX)),
        *sorted(n for n in names if n.startswith(SCHEDULE_PREFIX)),
        *sorted(n for n in names if n.startswith(PARAM_PREFIX)),
        *(f"{kind}_{epoch}" for kind in per_epoch for epoch in range(1, epochs + 1)),
    ]


def _flag_types(frame: pd.DataFrame) -> dict[str, str]:
    """Nullable ``boolean`` for flags some trials lack (SGD's ``nesterov``), not objects;
    text for a column of mixed types (a categorical of ``[1, "a"]``), which Parquet
    cannot hold."""
    types = {}
    for name in frame.columns:
        if not pd.api.types.is_object_dtype(frame[name].dtype):
            continue
        kinds = {type(value) for value in frame[name].dropna()}
        if kinds == {bool}:
            types[name] = "boolean"
        elif len(kinds) > 1 and not kinds <= {int, float}:
            types[name] = "string"
    return types


def _prefixed(prefix: str, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{prefix}{name}": value for name, value in values.items()}


def _per_epoch(kind: str, values: Sequence[Any] | None, epochs: int) -> dict[str, Any]:
    padded = list((values or ())[:epochs])
    padded += [None] * (epochs - len(padded))
    return dict(zip(_epoch_columns(kind, epochs), padded, strict=True))


@lru_cache(maxsize=64)
def _epoch_columns(kind: str, epochs: int) -> tuple[str, ...]:
    """``val_loss_1`` .. ``val_loss_N``: the same names for every trial, made once."""
    return tuple(f"{kind}_{i}" for i in range(1, epochs + 1))


def _duration(trial: FrozenTrial) -> float | None:
    if trial.datetime_start is None or trial.datetime_complete is None:
        return None
    return (trial.datetime_complete - trial.datetime_start).total_seconds()


def _count(counts: pd.DataFrame, state: str) -> pd.Series:
    if state in counts.columns:
        return counts[state]
    return pd.Series(0, index=counts.index)


def _top_trial(trial: FrozenTrial) -> TopTrial:
    label = f"#{trial.number} {_trial_label(trial)}"
    # intermediate_values may not be sorted, so order the epochs explicitly.
    epochs = sorted(trial.intermediate_values)
    lrs = np.array(trial.user_attrs.get("lrs") or [], dtype=np.float64).reshape(-1, 3)
    return TopTrial(
        trial.number,
        float(trial.value or 0),
        label,
        epochs,
        [trial.intermediate_values[epoch] for epoch in epochs],
        *(lrs[:, column].tolist() for column in range(3)),
    )


def _trial_label(trial: FrozenTrial) -> str:
    """Optimizer + schedule for an lrtune trial; the trial's own params for any other."""
    config = trial.user_attrs.get("config")
    if config:
        return f"{config.get('optimizer', '?')} + {config.get('schedule', '?')}"
    return ", ".join(f"{name}={_param_text(value)}" for name, value in trial.params.items())


def _param_text(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def uniform_params(trials: Sequence[FrozenTrial]) -> dict[str, list[Any]]:
    """The four parameters every lrtune trial has, from its ``config``: optimizer,
    schedule, log10 of the LR and warmup ratio (0 without warmup), one value per trial."""
    configs = [t.user_attrs["config"] for t in trials]
    return {
        "optimizer": [c["optimizer"] for c in configs],
        "schedule": [c["schedule"] for c in configs],
        "log10_lr": [math.log10(c["lr"]) for c in configs],
        "warmup_ratio": [float(c.get("warmup_ratio") or 0.0) for c in configs],
    }


def _proxy_study(values: Sequence[float], columns: Mapping[str, list[Any]]) -> optuna.Study:
    distributions = {name: _distribution(values) for name, values in columns.items()}
    verbosity = optuna.logging.get_verbosity()
    # A throwaway study: its "A new study created" line would only confuse a reader.
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        proxy = optuna.create_study(storage=optuna.storages.InMemoryStorage())
    finally:
        optuna.logging.set_verbosity(verbosity)
    for index, value in enumerate(values):
        params = {name: column[index] for name, column in columns.items()}
        proxy.add_trial(
            optuna.trial.create_trial(params=params, distributions=distributions, value=value)
        )
    return proxy


def _distribution(values: Sequence[Any]) -> BaseDistribution:
    if all(isinstance(v, str) for v in values):
        return CategoricalDistribution(sorted(set(values)))
    return FloatDistribution(min(values), max(values))


def _scaled(column: Sequence[Any]) -> tuple[list[float], list[tuple[float, str]]]:
    """``column`` on [0, 1] and its labelled ticks: a categorical's sorted choices evenly
    spaced, numbers from their lowest (0) to their highest (1); one value at 0.5."""
    if all(isinstance(v, str) for v in column):
        choices = sorted(set(column))
        spacing = 1.0 / max(len(choices) - 1, 1)
        where = {choice: index * spacing for index, choice in enumerate(choices)}
        if len(choices) == 1:
            where = {choices[0]: 0.5}
        return [where[v] for v in column], [(where[c], c) for c in choices]
    low, high = float(min(column)), float(max(column))
    span = high - low
    scaled = [(float(v) - low) / span if span > 0 else 0.5 for v in column]
    ticks = [(0.0, _tick(low)), (1.0, _tick(high))] if span > 0 else [(0.5, _tick(low))]
    return scaled, ticks


def _tick(value: float) -> str:
    return f"{value:.3g}"


def _param_slice(name: str, column: Sequence[Any]) -> ParamSlice:
    if all(isinstance(v, str) for v in column):
        choices = sorted(set(column))
        return ParamSlice(name, [float(choices.index(v)) for v in column], choices)
    return ParamSlice(name, [float(v) for v in column], None)


def _finite(value: float | None) -> float:
    return float(value) if value is not None and math.isfinite(value) else math.nan
