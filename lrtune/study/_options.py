"""``StudyOptions``: what a study searches and how it judges trials, checked once.

The spec file, the command line and ``run_study`` all build one; each value is checked
here, when it is made, and its defaults are written only here.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import torch

from lrtune._checks import MAX_COUNT, MAX_SEED, is_int, is_number, is_seed
from lrtune._registry import Registry
from lrtune.finder import FinderOptions
from lrtune.optimizers import OPTIMIZERS
from lrtune.schedules import SCHEDULES
from lrtune.study._bounds import LR_MARGIN, margin_pair
from lrtune.study._choices import PRUNERS, SAMPLERS
from lrtune.study._objective import OBJECTIVES, Objective
from lrtune.study._space import (
    DEFAULT_OPTIMIZERS,
    DEFAULT_SCHEDULES,
    WARMUP_MODES,
    SearchSpace,
    Warmup,
)

DEFAULT_N_TRIALS = 40

_PLACEHOLDER_LR = (1e-3, 1e-3)

Check = Callable[[str, Any], Any]


@dataclass(frozen=True, kw_only=True)
class StudyOptions:
    """What a study searches, and how long and by what it judges each trial.

    Every value is checked when the options are made: a bad one raises ``ValueError``
    naming the option and the value. A study spec's keys are these names (its
    ``[finder]`` table is ``finder_options``); ``None`` for a list or table means its
    default.

    Args:
        n_trials: The study's total budget of finished trials (complete or pruned).
        epochs: The length of every trial (default: the task's).
        seed: Seeds the sampler, the range tests and each trial (``seed + trial.number``).
        objective: ``"val_loss"`` (minimized) or ``"metric"`` (the task's, in its direction).
        pruner: ``"median"``, ``"hyperband"`` or ``"none"``.
        sampler: ``"tpe"`` (multivariate, grouped) or ``"random"``.
        optimizers: Candidate optimizers (default: ``DEFAULT_OPTIMIZERS``, torch's own).
        schedules: Candidate schedules (default: ``DEFAULT_SCHEDULES``, all of them).
        warmup: ``"off"``, ``"on"`` or ``"search"``: a linear warmup before the schedule.
        fixed: Parameters held at a value, by full name (``{"sgd.momentum": 0.9}``).
        ranges: Parameters searched over another range, by full name
            (``{"sgd.lr": (1e-4, 1.0)}`` replaces that optimizer's range test).
        lr_margin: How far the searched LR reaches below ``min_lr`` and above ``max_lr``:
            a pair of factors ``(below, above)``, or one for both sides.
        warm_start: Enqueue a few sensible configurations first (new studies only).
        timeout: Stop starting trials after this many seconds.
        device: ``"auto"`` (CUDA if available), ``"cpu"``, ``"cuda:1"``, ...
        finder_options: Options for the range tests (``num_iter``, ``end_lr``, ...).
    """

    n_trials: int = DEFAULT_N_TRIALS
    epochs: int | None = None
    seed: int = 0
    objective: Objective = "val_loss"
    pruner: str = "median"
    sampler: str = "tpe"
    optimizers: tuple[str, ...] = DEFAULT_OPTIMIZERS
    schedules: tuple[str, ...] = DEFAULT_SCHEDULES
    warmup: Warmup = "off"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    ranges: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    lr_margin: tuple[float, float] = LR_MARGIN
    warm_start: bool = True
    timeout: float | None = None
    device: str = "auto"
    finder_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for option in fields(self):
            value = getattr(self, option.name)
            if value is None and option.name in _NONE_IS_DEFAULT:
                value = _default(option)
            if value is not None or option.name not in _OPTIONAL:
                key = _KEYS.get(option.name, option.name)
                value = _CHECKS[key](key, value)
            object.__setattr__(self, option.name, value)
        _check_space(self)

    def replace(self, **changes: Any) -> StudyOptions:
        """A copy with ``changes``, checked; an unknown name is a ``TypeError``."""
        unknown = set(changes) - {option.name for option in fields(self)}
        if unknown:
            raise TypeError(f"StudyOptions has no option {sorted(unknown)[0]!r}.")
        return dataclasses.replace(self, **changes)

    def to_kwargs(self) -> dict[str, Any]:
        """The options by name, as ``run_study`` takes them; tables are copies."""
        values = {option.name: getattr(self, option.name) for option in fields(self)}
        for name in ("fixed", "ranges", "finder_options"):
            values[name] = dict(values[name])
        return values

    def space(self, lr: Mapping[str, tuple[float, float]]) -> SearchSpace:
        """The search space with each optimizer's LR range from ``lr``."""
        return SearchSpace(
            self.optimizers, self.schedules, lr, self.warmup, self.fixed, self.ranges
        )


_OPTIONAL = frozenset({"epochs", "timeout"})
_NONE_IS_DEFAULT = frozenset({"optimizers", "schedules", "fixed", "ranges", "finder_options"})


def _default(option: dataclasses.Field[Any]) -> Any:
    if option.default_factory is not dataclasses.MISSING:
        return option.default_factory()
    return option.default


def _check_space(options: StudyOptions) -> None:
    # [fixed] and [ranges] need only the candidates to be checked, not the task:
    # placeholder LR ranges stand in for the range tests.
    lr = {name: _PLACEHOLDER_LR for name in options.optimizers}
    plain = SearchSpace(options.optimizers, options.schedules, lr, options.warmup)
    _check_ranges_by_name(plain, options.ranges)
    options.space(lr)
    _check_fixed_or_searched(options.fixed, options.ranges)


def _check_fixed_or_searched(fixed: Mapping[str, Any], ranges: Mapping[str, Any]) -> None:
    # A parameter held at a value is not searched: one of the two entries would be ignored.
    for name in ranges:
        if name in fixed:
            raise ValueError(
                f"{name} is both fixed ([fixed] {name} = {_toml(fixed[name])}) and searched "
                f"([ranges] {name} = {_toml(list(ranges[name]))}); keep one of the two."
            )


# --- one check per key: each returns the value as StudySpec holds it -------------------


def _text(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _wrong(key, "a non-empty string", value)
    return value


def _count(key: str, value: Any) -> int:
    if not is_int(value) or value < 1:
        raise _wrong(key, "a positive integer", value)
    if value > MAX_COUNT:  # Optuna's trial numbers and steps are 32-bit INTEGER columns
        raise ValueError(f"{key} must be at most {MAX_COUNT}, but got {value}.")
    return int(value)


def _seed(key: str, value: Any) -> int:
    if not is_seed(value):
        raise _wrong(key, f"an integer in [0, {MAX_SEED}]", value)
    return int(value)


def _margin(key: str, value: Any) -> tuple[float, float]:
    try:
        return margin_pair(value)
    except ValueError:
        raise _wrong(key, "a number >= 1 or a pair [below, above] of numbers >= 1", value) from None


def _seconds(key: str, value: Any) -> float:
    if not _is_number(value) or not value > 0:
        raise _wrong(key, "a positive number of seconds", value)
    return float(value)


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise _wrong(key, "true or false", value)
    return value


def _device(key: str, value: Any) -> str:
    expected = "'auto' or a torch device such as 'cpu', 'cuda' or 'cuda:1'"
    if not isinstance(value, str):
        raise _wrong(key, expected, value)
    if value != "auto":
        try:
            torch.device(value)
        except (RuntimeError, TypeError):
            raise _wrong(key, expected, value) from None
    return value


def _one_of(options: Sequence[str]) -> Check:
    def check(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise _wrong(key, f"one of {', '.join(map(repr, options))}", value)
        return value

    return check


def _registered(registry: Registry[Any]) -> Check:
    def check(key: str, value: Any) -> str:
        if not isinstance(value, str):
            raise _wrong(key, f"the name of a {registry.kind}", value)
        if value not in registry:
            raise ValueError(f"{key}: {_unknown(registry.kind, value, registry.names())}")
        return value.lower()

    return check


def _names(registry: Registry[Any]) -> Check:
    def check(key: str, value: Any) -> tuple[str, ...]:
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise _wrong(key, f"a list of {registry.kind} names", value)
        if not value:
            raise _wrong(key, f"a non-empty list of {registry.kind} names", value)
        for name in value:
            # Exact names: the search space compares them as written.
            if name not in registry.names():
                raise ValueError(f"{key}: {_unknown(registry.kind, name, registry.names())}")
        return tuple(value)

    return check


def _finder(key: str, value: Any) -> dict[str, Any]:
    table = _table(key, value)
    types = _finder_types()
    for name, option in table.items():
        if name not in types:
            raise ValueError(_unknown("key", name, list(types), where=" in [finder]"))
        expected, accepts = _EXPECTED[types[name]]
        if not accepts(option):
            raise _wrong(f"[finder] {name}", expected, option)
    try:
        FinderOptions(**table)
    except ValueError as error:
        raise ValueError(f"[finder] {error}") from error
    return dict(table)


def _fixed(key: str, value: Any) -> dict[str, Any]:
    # Names and values are checked with the search space, in StudySpec.__post_init__.
    return _flat(_table(key, value))


def _ranges(key: str, value: Any) -> dict[str, tuple[float, float]]:
    return {name: _pair(name, bounds) for name, bounds in _flat(_table(key, value)).items()}


def _pair(name: str, bounds: Any) -> tuple[float, float]:
    if not isinstance(bounds, (list, tuple)) or len(bounds) != 2:
        raise _wrong(f"[ranges] {name}", "[low, high]", bounds)
    if not all(_is_number(bound) for bound in bounds):
        raise _wrong(f"[ranges] {name}", "two numbers [low, high]", bounds)
    low, high = bounds
    if low > high:
        raise ValueError(f"[ranges] {name} must have low <= high, but got {_toml(bounds)}.")
    return low, high


def _check_ranges_by_name(space: SearchSpace, ranges: Mapping[str, tuple[float, float]]) -> None:
    # The search space's own messages name a parameter without its family ("lr"): the
    # mistakes a range can hold are reported here first, by full name.
    params = space.params()
    for name, (low, high) in ranges.items():
        param = params.get(name)
        if param is None:  # an unknown name: the search space says so
            continue
        if param.choices is not None:
            raise ValueError(f"[ranges] {name} takes {param.describe()}, not a range.")
        if param.log and not low > 0:
            raise ValueError(
                f"[ranges] {name} is searched on a log scale, so low must be > 0, "
                f"but got {_toml([low, high])}."
            )
        if param.limits is not None and not param.limits[0] <= low <= high <= param.limits[1]:
            lowest, highest = param.limits
            raise ValueError(
                f"[ranges] {name} must lie within [{lowest:g}, {highest:g}], "
                f"but got {_toml([low, high])}."
            )


_CHECKS: dict[str, Check] = {
    "n_trials": _count,
    "epochs": _count,
    "seed": _seed,
    "objective": _one_of(OBJECTIVES),
    "pruner": _registered(PRUNERS),
    "sampler": _registered(SAMPLERS),
    "optimizers": _names(OPTIMIZERS),
    "schedules": _names(SCHEDULES),
    "warmup": _one_of(WARMUP_MODES),
    "lr_margin": _margin,
    "warm_start": _flag,
    "device": _device,
    "timeout": _seconds,
    "finder": _finder,
    "fixed": _fixed,
    "ranges": _ranges,
}
"""The check of each option, by its spec key, in the order the docs list them."""

FIELDS = {"finder": "finder_options"}
"""Spec keys whose option (and run_study argument) is named otherwise."""
_KEYS = {name: key for key, name in FIELDS.items()}
OPTION_KEYS = tuple(_CHECKS)
"""Every option a spec may hold, by its spec key."""


# --- helpers ---------------------------------------------------------------------------


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _wrong(key, "a table", value)
    return value


def _flat(table: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    # An unquoted dotted key (sgd.momentum = 0.9) is a nested table in TOML; it means the
    # same as the quoted "sgd.momentum". No parameter's value is itself a table.
    flat: dict[str, Any] = {}
    for name, value in table.items():
        if isinstance(value, Mapping):
            flat |= _flat(value, f"{prefix}{name}.")
        else:
            flat[f"{prefix}{name}"] = value
    return flat


def _finder_types() -> dict[str, type]:
    hints = typing.get_type_hints(FinderOptions)
    return {f.name: _base_type(hints[f.name]) for f in fields(FinderOptions)}


def _base_type(hint: Any) -> type:
    # "str | None" is str: TOML has no null, so an option left at None is simply omitted.
    args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
    return typing.cast(type, args[0] if args else hint)


def _is_number(value: Any) -> bool:
    return is_number(value) and not math.isnan(value)


_EXPECTED: dict[type, tuple[str, Callable[[Any], bool]]] = {
    float: ("a number", _is_number),
    int: ("an integer", is_int),
    str: ("a string", lambda value: isinstance(value, str)),
    bool: ("true or false", lambda value: isinstance(value, bool)),
}


def _unknown(what: str, name: str, valid: Sequence[str], where: str = "") -> str:
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"choose from: {', '.join(valid)}."
    return f"unknown {what} {name!r}{where}; {hint}"


def _wrong(key: str, expected: str, value: Any) -> ValueError:
    return ValueError(f"{key} must be {expected}, but got {_shown(value)}.")


MAX_SHOWN = 80
"""How much of a value a message quotes."""


def _shown(value: Any) -> str:
    text = _toml(value)
    if len(text) > MAX_SHOWN:
        text = f"{text[: MAX_SHOWN - 15]}... ({len(text)} characters)"
    return f"{text} ({_kind(value)})"


def _toml(value: Any) -> str:
    """``value`` as the spec would write it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return f"[{', '.join(map(_toml, value))}]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return repr(value)


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a float"),
    (str, "a string"),
    ((list, tuple), "an array"),
    (Mapping, "a table"),
    ((datetime.date, datetime.time), "a date or time"),
)


def _kind(value: Any) -> str:
    return next((kind for t, kind in _KINDS if isinstance(value, t)), type(value).__name__)


def _one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.strip().splitlines())
