"""Candidate rules with fitted constants, and leave-one-family-out cross-validation.

An *observation* is one range test of one case: the features a rule may read (the
zero-phase minimum, the steepest descent before it, the planned training length, the
optimizer's kind, Prodigy's step-size estimate) and the case's regret as a function of
the LR, interpolated on the ground-truth grid. A *model* maps features to log10(LR) with a
few constants; ``fit`` chooses them by grid search to minimize the mean capped regret over
the training observations (each case weighs the same, whatever its number of range
tests), and ``interval`` takes the residual quantiles. Cross-validation holds out one
family at a time: its observations are predicted by constants fitted on the other
families only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

REGRET_CAP = 2.0
"""A diverged LR counts as this regret when fitting, and so does any worse one."""
INTERVAL_QUANTILES = (0.1, 0.9)
"""The interval aims to hold the best LR four times in five."""
OFFSETS = np.arange(-2.5, 0.51, 0.02)
SLOPES = np.arange(-0.8, 0.21, 0.02)
WEIGHTS = np.arange(0.0, 1.01, 0.1)
KINDS = ("sgd", "adam", "rmsprop")


@dataclass(frozen=True)
class Observation:
    case: str
    family: str
    kind: str
    finder_seed: int
    log_min: float | None
    """log10 of the zero-phase minimum; ``None`` when the curve never fell."""
    log_steep: float | None
    log_horizon: float
    """log10(planned_steps / 100)."""
    log_prodigy: float | None
    """log10 of Prodigy's ``d`` after as many steps as the sweep (adaptive kinds)."""
    log_best: float
    xs: np.ndarray = field(repr=False)
    """log10 LRs of the grid, increasing."""
    regrets: np.ndarray = field(repr=False)
    """Capped regret at ``xs``."""

    def regret_at(self, log_lr: float | None) -> float:
        if log_lr is None or not math.isfinite(log_lr):
            return REGRET_CAP
        return float(np.interp(log_lr, self.xs, self.regrets))


Params = dict[str, float]


@dataclass(frozen=True)
class Model:
    """A family of rules: ``predict(observation, params)`` gives log10(LR) or ``None``."""

    name: str
    description: str
    predict: Callable[[Observation, Params], float | None]
    search: Callable[[Sequence[Observation]], Params]


def _by_case_mean(observations: Sequence[Observation], values: Sequence[float]) -> float:
    per_case: dict[str, list[float]] = {}
    for obs, value in zip(observations, values, strict=True):
        per_case.setdefault(obs.case, []).append(value)
    return float(np.mean([np.mean(v) for v in per_case.values()]))


def loss(observations: Sequence[Observation], model: Model, params: Params) -> float:
    regrets = [obs.regret_at(model.predict(obs, params)) for obs in observations]
    return _by_case_mean(observations, regrets)


# --- the models ----------------------------------------------------------------------


def _offset_key(kind: str) -> str:
    return f"offset_{kind}"


def _kind_offsets(
    observations: Sequence[Observation], base: Callable[[Observation], float | None]
) -> Params:
    """Per kind, the offset added to ``base`` that minimizes that kind's loss."""
    params = {}
    for kind in KINDS:
        mine = [obs for obs in observations if obs.kind == kind]
        if not mine:  # a kind with no cases of its own takes Adam's offset, else everyone's
            mine = [obs for obs in observations if obs.kind == "adam"] or list(observations)
        params[_offset_key(kind)] = _best_offset(mine, base)
    return params


def _best_offset(
    observations: Sequence[Observation], base: Callable[[Observation], float | None]
) -> float:
    bases = [base(obs) for obs in observations]
    scores = []
    for offset in OFFSETS:
        regrets = [
            obs.regret_at(None if b is None else b + offset)
            for obs, b in zip(observations, bases, strict=True)
        ]
        scores.append(_by_case_mean(observations, regrets))
    return float(OFFSETS[int(np.argmin(scores))])


def _predict_horizon(obs: Observation, params: Params) -> float | None:
    if obs.log_min is None:
        return None
    slope = params.get(f"slope_{obs.kind}", params.get("slope", 0.0))
    return obs.log_min + params[_offset_key(obs.kind)] + slope * obs.log_horizon


def _search_offsets(observations: Sequence[Observation]) -> Params:
    return _kind_offsets(observations, lambda obs: obs.log_min)


def _search_shared_slope(observations: Sequence[Observation]) -> Params:
    best: tuple[float, Params] | None = None
    for slope in SLOPES:
        params = _kind_offsets(
            observations,
            lambda obs, s=slope: None if obs.log_min is None else obs.log_min + s * obs.log_horizon,
        )
        params["slope"] = float(slope)
        score = loss(observations, HORIZON, params)
        if best is None or score < best[0]:
            best = (score, params)
    assert best is not None
    return best[1]


def _search_kind_slopes(observations: Sequence[Observation]) -> Params:
    params: Params = {}
    for kind in KINDS:
        mine = [obs for obs in observations if obs.kind == kind]
        fitted = _search_shared_slope(mine or observations)
        params[_offset_key(kind)] = fitted[_offset_key(kind)]
        params[f"slope_{kind}"] = fitted["slope"]
    return params


def _predict_min6(obs: Observation, params: Params) -> float | None:
    return None if obs.log_min is None else obs.log_min - math.log10(6.0)


def _predict_steep_mix(obs: Observation, params: Params) -> float | None:
    if obs.log_min is None or obs.log_steep is None:
        return None
    mixed = params["weight"] * obs.log_steep + (1 - params["weight"]) * obs.log_min
    return mixed + params[_offset_key(obs.kind)] + params["slope"] * obs.log_horizon


def _search_steep_mix(observations: Sequence[Observation]) -> Params:
    usable = [obs for obs in observations if obs.log_steep is not None]
    best: tuple[float, Params] | None = None
    for weight in WEIGHTS:
        for slope in SLOPES[::2]:

            def base(obs: Observation, w: float = weight, s: float = slope) -> float | None:
                if obs.log_min is None or obs.log_steep is None:
                    return None
                return w * obs.log_steep + (1 - w) * obs.log_min + s * obs.log_horizon

            params = _kind_offsets(usable, base) | {"weight": float(weight), "slope": float(slope)}
            score = loss(usable, STEEP_MIX, params)
            if best is None or score < best[0]:
                best = (score, params)
    assert best is not None
    return best[1]


def _predict_prodigy(obs: Observation, params: Params) -> float | None:
    if obs.kind == "sgd" or obs.log_prodigy is None:
        return _predict_horizon(obs, params)
    return obs.log_prodigy + params[f"prodigy_{obs.kind}"] + params["slope"] * obs.log_horizon


def _search_prodigy(observations: Sequence[Observation]) -> Params:
    params = _search_shared_slope(observations)
    for kind in ("adam", "rmsprop"):
        mine = [obs for obs in observations if obs.kind == kind and obs.log_prodigy is not None]
        slope = params["slope"]
        offset = _best_offset(
            mine,
            lambda obs, s=slope: obs.log_prodigy + s * obs.log_horizon,  # type: ignore[operator]
        )
        params[f"prodigy_{kind}"] = offset
    return params


MIN6 = Model(
    "min6",
    "zero-phase minimum / 6 (the former default, not refitted)",
    _predict_min6,
    lambda observations: {},
)
OFFSET = Model("offset", "zero-phase minimum x 10^offset[kind]", _predict_horizon, _search_offsets)
HORIZON = Model(
    "horizon",
    "zero-phase minimum x 10^(offset[kind] + slope * log10(planned_steps / 100))",
    _predict_horizon,
    _search_shared_slope,
)
HORIZON_KIND = Model(
    "horizon-kind",
    "as horizon, with a slope per kind",
    _predict_horizon,
    _search_kind_slopes,
)
STEEP_MIX = Model(
    "steep-mix",
    "horizon on a weighted geometric mean of the steepest descent and the minimum",
    _predict_steep_mix,
    _search_steep_mix,
)
PRODIGY = Model(
    "prodigy-d",
    "adaptive kinds: Prodigy's d x 10^(offset[kind] + slope * log10(steps/100)); SGD: horizon",
    _predict_prodigy,
    _search_prodigy,
)
MODELS = (MIN6, OFFSET, HORIZON, HORIZON_KIND, STEEP_MIX, PRODIGY)


# --- cross-validation ----------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    below: float
    above: float

    def contains(self, log_pred: float, log_best: float) -> bool:
        return log_pred - self.below <= log_best <= log_pred + self.above


def interval(observations: Sequence[Observation], model: Model, params: Params) -> Interval:
    """Residual quantiles of log10(best / predicted) on ``observations``."""
    residuals = [
        obs.log_best - pred
        for obs in observations
        if (pred := model.predict(obs, params)) is not None
    ]
    low, high = np.quantile(residuals, INTERVAL_QUANTILES)
    return Interval(below=float(max(0.0, -low)), above=float(max(0.0, high)))


@dataclass(frozen=True)
class HeldOut:
    """One observation predicted by constants fitted without its family."""

    observation: Observation
    log_lr: float | None
    interval: Interval
    params: Params


def leave_one_family_out(observations: Sequence[Observation], model: Model) -> list[HeldOut]:
    families = sorted({obs.family for obs in observations})
    held: list[HeldOut] = []
    for family in families:
        train = [obs for obs in observations if obs.family != family]
        params = model.search(train)
        spread = interval(train, model, params)
        for obs in observations:
            if obs.family == family:
                held.append(HeldOut(obs, model.predict(obs, params), spread, params))
    return held


def round_params(params: Params) -> Params:
    return {key: round(value, 3) for key, value in params.items()}
