"""lrtune's rule: from the range test's turning point to the LR a whole training run wants.

A 100-step sweep sees where the loss stops falling (the zero-phase minimum, ``max_lr``),
but not how long the user will train. The best *constant* LR can shrink as training grows
longer (Bjorck et al., ICLR 2025; Schaipp et al., ICML 2025), and it sits lower for SGD
with momentum than for adaptive optimizers relative to the turning point. So the rule is a
line in log space, per optimizer kind::

    log10(lr) = log10(max_lr) + offset[kind] + slope[kind] * log10(planned_steps / 100)

and the interval the best LR likely lies in is that LR times ``10 ** (-below, +above)``.
Every constant here was fitted on the suggestion-quality benchmark's development families
(``benchmarks/suggestion_quality.py``), and the model was chosen among its candidates by
leave-one-family-out cross-validation; the figures published are held out, see
benchmarks/README.md. Measured there, only Adam-like optimizers showed the shrinking
(slope -0.36: a tenfold longer run wants an LR 2.3 times smaller); for SGD with momentum
and RMSprop the fitted slopes are small and positive, and the slopes vary from task to task
far more than between kinds, which is what the interval is for.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

REFERENCE_STEPS = 100
"""``planned_steps`` is measured against this: the default sweep's length."""


@dataclass(frozen=True)
class HorizonLine:
    """One optimizer kind's constants (decades).

    Args:
        offset: ``log10(lr / max_lr)`` at ``planned_steps == REFERENCE_STEPS``.
        slope: How many decades the LR moves per decade of planned steps.
        below: How far below the suggestion the interval reaches.
        above: How far above it the interval reaches.
    """

    offset: float
    slope: float
    below: float
    above: float

    def lr(self, max_lr: float, planned_steps: int | None) -> float:
        return max_lr * 10 ** self.decades(planned_steps)

    def decades(self, planned_steps: int | None) -> float:
        if planned_steps is None:
            return self.offset
        return self.offset + self.slope * math.log10(planned_steps / REFERENCE_STEPS)

    def interval(self, lr: float) -> tuple[float, float]:
        return lr * 10**-self.below, lr * 10**self.above


@dataclass(frozen=True)
class HorizonModel:
    """The constants of every optimizer kind, with and without a known training length."""

    known: dict[str, HorizonLine]
    """Used when ``planned_steps`` is given."""
    unknown: dict[str, HorizonLine]
    """Used without ``planned_steps``: slope 0, fitted on the same cases, wider intervals."""

    def line(self, kind: str | None, planned_steps: int | None) -> HorizonLine:
        lines = self.unknown if planned_steps is None else self.known
        return lines.get(kind or DEFAULT_KIND, lines[DEFAULT_KIND])


DEFAULT_KIND = "adam"
"""Optimizers of unknown kind are treated as Adam-like."""

MODEL = HorizonModel(
    known={
        "sgd": HorizonLine(offset=-1.00, slope=0.12, below=0.50, above=0.77),
        "adam": HorizonLine(offset=-0.72, slope=-0.36, below=0.50, above=0.77),
        "rmsprop": HorizonLine(offset=-0.40, slope=0.20, below=0.50, above=0.77),
    },
    unknown={
        "sgd": HorizonLine(offset=-0.96, slope=0.0, below=0.49, above=0.75),
        "adam": HorizonLine(offset=-0.80, slope=0.0, below=0.49, above=0.75),
        "rmsprop": HorizonLine(offset=-0.34, slope=0.0, below=0.49, above=0.75),
    },
)
"""Fitted on the 11 development families (55 cases, 2 range tests each) of
``benchmarks/suggestion_quality.py``: ``known`` is its ``horizon-kind`` model, ``unknown``
its ``offset`` model. Among the candidate models, ``horizon-kind`` had the lowest held-out
(leave-one-family-out) median regret; its constants here are the ones fitted on all
development families, scored out of sample on the fresh families (benchmarks/README.md).
"""

_KINDS = (
    ("sgd", ("SGD",)),
    ("rmsprop", ("RMSprop",)),
    ("adam", ("Adam", "AdamW", "NAdam", "RAdam", "Adamax", "SparseAdam")),
)


def optimizer_kind(optimizer: object) -> str | None:
    """``"sgd"``, ``"rmsprop"`` or ``"adam"`` for torch's optimizers (subclasses too).

    ``None`` for anything else: the rule then treats it as Adam-like.
    """
    import torch

    for kind, names in _KINDS:
        if any(isinstance(optimizer, getattr(torch.optim, name)) for name in names):
            return kind
    return None


def kind_of_class_name(name: str) -> str | None:
    """The kind of a torch optimizer from its class name, as results store it."""
    return next((kind for kind, names in _KINDS if name in names), None)
