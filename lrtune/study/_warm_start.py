"""Warm start: sensible configurations enqueued before the sampler takes over.

Each template names an optimizer, a schedule and which range-test LR it starts from;
templates whose optimizer or schedule is not in the space are skipped. Parameters not
named take their family defaults, and fixed parameters are left to the space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from lrtune.optimizers import OPTIMIZERS
from lrtune.schedules import SCHEDULES
from lrtune.study._bounds import LRBounds
from lrtune.study._space import SearchSpace

LRSource = Literal["suggested_lr", "min_lr", "max_lr"]


class Template(NamedTuple):
    optimizer: str
    schedule: str
    lr: LRSource


TEMPLATES = (
    # The range test's constant-rate suggestion, decayed by a cosine.
    Template("adamw", "cosine", "suggested_lr"),
    # SGD with momentum and 1cycle, peaking at min_lr: peaks at max_lr, Smith's choice,
    # were among their studies' worst trials in benchmarks/study_quality.py, whose best
    # trials sat a median 0.4 to 1 decade below max_lr.
    Template("sgd", "onecycle", "min_lr"),
)
"""Two, so that TPE's random start-up trials still outnumber them."""


def warm_start_params(space: SearchSpace, bounds: Mapping[str, LRBounds]) -> list[dict[str, Any]]:
    """The parameters of each template that fits ``space`` (for ``study.enqueue_trial``)."""
    found = [_params(space, t, bounds[t.optimizer]) for t in TEMPLATES if _fits(space, t, bounds)]
    if not found:
        drawn = [space.fixed["optimizer"]] if "optimizer" in space.fixed else space.optimizers
        first = next((o for o in drawn if _lr(bounds.get(o), "suggested_lr")), None)
        if first is not None:
            fallback = Template(first, space.schedules_for(first)[0], "suggested_lr")
            found.append(_params(space, fallback, bounds[first]))
    return found


def _fits(space: SearchSpace, template: Template, bounds: Mapping[str, LRBounds]) -> bool:
    fixed = space.fixed
    return (
        template.optimizer in space.optimizers
        and template.schedule in space.schedules_for(template.optimizer)
        and fixed.get("optimizer", template.optimizer) == template.optimizer
        and fixed.get("schedule", template.schedule) == template.schedule
        and _lr(bounds.get(template.optimizer), template.lr) is not None
    )


def _lr(bounds: LRBounds | None, source: LRSource) -> float | None:
    return None if bounds is None else getattr(bounds, source)


def _params(space: SearchSpace, template: Template, bounds: LRBounds) -> dict[str, Any]:
    lr = _lr(bounds, template.lr)
    assert lr is not None  # templates without an LR were filtered out
    low, high = space.lr[template.optimizer]
    params: dict[str, Any] = {
        "optimizer": template.optimizer,
        f"{template.optimizer}.lr": min(max(lr, low), high),
    }
    schedule, choices = space.schedule_choice(template.optimizer)
    if schedule == "schedule" or len(choices) > 1:  # else the trial draws no schedule
        params[schedule] = template.schedule
    for param in OPTIMIZERS.get(template.optimizer).params:
        params[f"{template.optimizer}.{param.name}"] = param.default
    for param in SCHEDULES.get(template.schedule).params:
        params[f"{template.schedule}.{param.name}"] = param.default
    if space.warmup == "search":
        params["warmup"] = False
    return {name: value for name, value in params.items() if name not in space.fixed}
