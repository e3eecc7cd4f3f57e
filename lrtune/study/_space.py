"""The search space of a study: optimizers, schedules, their parameters and LR ranges.

Every parameter a trial may draw has one name (``"adamw.lr"``, ``"adamw.weight_decay"``,
``"cosine.eta_min_ratio"``, ``"optimizer"``, ``"schedule"``, ``"warmup"``,
``"warmup_ratio"``); those names are what a spec's ``[fixed]`` and ``[ranges]`` tables
use, and what Optuna stores. Prefixing by family keeps conditional parameters apart, which
is what lets TPE with ``group=True`` model each optimizer and schedule on its own.

An optimizer that takes only some schedules (Schedule-Free: ``constant``) is never offered
the others: its trials draw no ``schedule`` (one name keeps one set of choices) and train
with the one it allows, as their configuration records.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import optuna

from lrtune._checks import is_number
from lrtune._params import Param, check_range
from lrtune.optimizers import OPTIMIZERS
from lrtune.schedules import SCHEDULES, WARMUP_RATIO
from lrtune.training import TrainingConfig

Warmup = Literal["off", "on", "search"]
WARMUP_MODES: tuple[Warmup, ...] = ("off", "on", "search")
DEFAULT_OPTIMIZERS = ("sgd", "adam", "adamw", "nadam", "rmsprop", "radam")
DEFAULT_SCHEDULES = (
    "constant",
    "exponential",
    "step",
    "multistep",
    "plateau",
    "onecycle",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "polynomial",
)
_TOP_LEVEL = ("optimizer", "schedule", "warmup", "warmup_ratio")


@dataclass(frozen=True)
class SearchSpace:
    """What a study searches; stored on the study so every worker samples the same space.

    Args:
        optimizers: The candidate optimizer names.
        schedules: The candidate schedule names.
        lr: Each optimizer's searched learning-rate range ``(low, high)``, log-uniform.
        warmup: ``"off"``, ``"on"`` (always, length searched) or ``"search"`` (on or off)
            for schedules that take a warmup.
        fixed: Parameters held at a value instead of searched, by full name.
        ranges: Parameters searched over another range than their default, by full name.
    """

    optimizers: tuple[str, ...]
    schedules: tuple[str, ...]
    lr: Mapping[str, tuple[float, float]]
    warmup: Warmup = "off"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_space(self)

    def sample(self, trial: optuna.Trial) -> TrainingConfig:
        """Draw one configuration; only the chosen families' parameters are suggested."""
        optimizer = self._choose(trial, "optimizer", self.optimizers)
        lr = self._value(trial, f"{optimizer}.lr", self.lr_param(optimizer))
        optimizer_params = self._family_values(trial, optimizer, OPTIMIZERS.get(optimizer).params)
        schedule = self._choose(trial, *self.schedule_choice(optimizer))
        family = SCHEDULES.get(schedule)
        schedule_params = self._family_values(trial, schedule, family.params)
        warmup_ratio = self._warmup(trial) if family.supports_warmup else None
        return TrainingConfig(
            optimizer, lr, optimizer_params, schedule, schedule_params, warmup_ratio
        )

    def schedules_for(self, optimizer: str) -> tuple[str, ...]:
        """The candidate schedules ``optimizer`` may be trained with."""
        family = OPTIMIZERS.get(optimizer)
        return tuple(name for name in self.schedules if family.allows_schedule(name))

    def schedule_choice(self, optimizer: str) -> tuple[str, tuple[str, ...]]:
        """The name a trial with ``optimizer`` draws its schedule under, and the choices.

        ``"schedule"`` over every candidate, unless ``optimizer`` takes fewer: then its
        own ``"<optimizer>.schedule"`` over those it takes, drawn only if there are two.
        """
        allowed = self.schedules_for(optimizer)
        if "schedule" in self.fixed or allowed == self.schedules:
            return "schedule", self.schedules
        return f"{optimizer}.schedule", allowed

    def lr_param(self, optimizer: str) -> Param:
        low, high = self.lr[optimizer]
        return Param("lr", low, low, high, log=True)

    def params(self) -> dict[str, Param]:
        """Every parameter of this space by full name (with ranges applied)."""
        found = {
            "optimizer": Param("optimizer", self.optimizers[0], choices=self.optimizers),
            "schedule": Param("schedule", self.schedules[0], choices=self.schedules),
            "warmup": Param("warmup", False, choices=(False, True)),
            "warmup_ratio": WARMUP_RATIO,
        }
        for name in self.optimizers:
            found[f"{name}.lr"] = self.lr_param(name)
            found |= {f"{name}.{p.name}": p for p in OPTIMIZERS.get(name).params}
        for name in self.schedules:
            found |= {f"{name}.{p.name}": p for p in SCHEDULES.get(name).params}
        for name, (low, high) in self.ranges.items():
            found[name] = found[name].with_range(low, high)
        return found

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (for the study's user attributes)."""
        return {
            "optimizers": list(self.optimizers),
            "schedules": list(self.schedules),
            "lr": {name: list(bounds) for name, bounds in self.lr.items()},
            "warmup": self.warmup,
            "fixed": dict(self.fixed),
            "ranges": {name: list(bounds) for name, bounds in self.ranges.items()},
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> SearchSpace:
        return cls(
            optimizers=tuple(values["optimizers"]),
            schedules=tuple(values["schedules"]),
            lr={name: (low, high) for name, (low, high) in values["lr"].items()},
            warmup=values["warmup"],
            fixed=dict(values["fixed"]),
            ranges={name: (low, high) for name, (low, high) in values["ranges"].items()},
        )

    def _choose(self, trial: optuna.Trial, name: str, choices: Sequence[str]) -> str:
        if name in self.fixed:
            return str(self.fixed[name])
        if len(choices) == 1:
            return choices[0]
        return str(trial.suggest_categorical(name, list(choices)))

    def _family_values(
        self, trial: optuna.Trial, family: str, params: Sequence[Param]
    ) -> dict[str, Any]:
        return {p.name: self._value(trial, f"{family}.{p.name}", p) for p in params}

    def _value(self, trial: optuna.Trial, name: str, param: Param) -> Any:
        if name in self.fixed:
            return self.fixed[name]
        if name in self.ranges:
            param = param.with_range(*self.ranges[name])
        if param.choices is not None:
            return trial.suggest_categorical(name, list(param.choices))
        assert param.low is not None and param.high is not None  # a range, not choices
        if param.low == param.high:
            return param.low
        if param.integer:
            return trial.suggest_int(name, int(param.low), int(param.high), log=param.log)
        return trial.suggest_float(name, param.low, param.high, log=param.log)

    def _warmup(self, trial: optuna.Trial) -> float | None:
        mode = self.warmup
        if "warmup" in self.fixed:
            mode = "on" if self.fixed["warmup"] else "off"
        elif mode == "search":
            mode = "on" if trial.suggest_categorical("warmup", [False, True]) else "off"
        if mode == "off":
            return None
        return float(self._value(trial, "warmup_ratio", WARMUP_RATIO))


def check_space(space: SearchSpace) -> None:
    """Refuse unknown names, empty choices, bad LR ranges and bad fixed values or ranges."""
    _check_names("optimizer", space.optimizers, OPTIMIZERS.names())
    _check_names("schedule", space.schedules, SCHEDULES.names())
    if space.warmup not in WARMUP_MODES:
        raise ValueError(f"warmup must be one of {WARMUP_MODES}, but got {space.warmup!r}.")
    for name in space.optimizers:
        if name not in space.lr:
            raise ValueError(f"No learning-rate range for optimizer {name!r}.")
        check_range(f"{name}.lr", *space.lr[name], log=True)
    known = {
        *_TOP_LEVEL,
        *(f"{o}.{p.name}" for o in space.optimizers for p in OPTIMIZERS.get(o).params),
        *(f"{o}.lr" for o in space.optimizers),
        *(f"{s}.{p.name}" for s in space.schedules for p in SCHEDULES.get(s).params),
    }
    for table, names in (("fixed", space.fixed), ("ranges", space.ranges)):
        for name in names:
            _check_known(table, name, known)
    _check_fixed(space)
    _check_ranges(space)
    _check_schedules_allowed(space)


def _check_schedules_allowed(space: SearchSpace) -> None:
    """Refuse an optimizer that could be drawn but allows none of the schedules offered."""
    fixed = space.fixed.get("schedule")
    for name in space.optimizers:
        if space.fixed.get("optimizer", name) != name:
            continue
        allowed = list(space.schedules_for(name))
        takes = list(OPTIMIZERS.get(name).schedules or ())
        if fixed is not None and fixed not in allowed:
            raise ValueError(
                f"[fixed] schedule = {fixed!r} does not suit optimizer {name!r}, which takes "
                f"only the schedules {takes}."
            )
        if not allowed:
            raise ValueError(
                f"Optimizer {name!r} takes only the schedules {takes}, but "
                f"schedules={list(space.schedules)!r} holds none of them."
            )


def _check_names(kind: str, names: Sequence[str], registered: Sequence[str]) -> None:
    if not names:
        raise ValueError(f"Give at least one {kind}.")
    for name in names:
        if name not in registered:
            choices = ", ".join(registered)
            raise ValueError(f"Unknown {kind} {name!r}; choose from: {choices}.")
    if len(set(names)) != len(names):
        raise ValueError(f"{kind}s are listed twice: {list(names)}.")


def _check_known(table: str, name: str, known: set[str]) -> None:
    if name in known:
        return
    close = difflib.get_close_matches(name, sorted(known), n=3)
    hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"[{table}] names an unknown parameter {name!r}.{hint}")


def _check_fixed(space: SearchSpace) -> None:
    params = space.params()
    for name, value in space.fixed.items():
        if name == "optimizer" and value not in space.optimizers:
            raise ValueError(f"[fixed] optimizer = {value!r} is not among {space.optimizers}.")
        if name == "schedule" and value not in space.schedules:
            raise ValueError(f"[fixed] schedule = {value!r} is not among {space.schedules}.")
        if name in ("optimizer", "schedule"):
            continue
        if _is_optimizer_param(space, name):
            _check_optimizer_value(name, value, params[name])
            continue
        param = params[name]
        if not param.allows(value):
            raise ValueError(_not_allowed(name, value, param))


def _is_optimizer_param(space: SearchSpace, name: str) -> bool:
    return name.split(".", 1)[0] in space.optimizers


def _check_optimizer_value(name: str, value: Any, param: Param) -> None:
    # A fixed LR may lie anywhere above zero: the searched range is only the range test's.
    if name.endswith(".lr"):
        numeric = is_number(value)
        if not (numeric and 0 < value < math.inf):
            raise ValueError(f"[fixed] {name} must be positive, but got {value!r}.")
        return
    if not param.allows(value):
        raise ValueError(_not_allowed(name, value, param))


def _not_allowed(name: str, value: Any, param: Param) -> str:
    if param.choices is not None:
        return f"[fixed] {name} = {value!r} is not {param.describe()}."
    low, high = param.limits or (param.low, param.high)
    return f"[fixed] {name} = {value!r} is not allowed: it must be in [{low:g}, {high:g}]."


def _check_ranges(space: SearchSpace) -> None:
    params = space.params()  # with_range (inside params) checks each range's numbers
    for name in space.ranges:
        if name in ("optimizer", "schedule", "warmup"):
            raise ValueError(f"[ranges] {name} takes choices, not a range.")
        if params[name].choices is not None:
            raise ValueError(f"[ranges] {name} is categorical; it takes no range.")
