"""Optimizer families, built by name.

``OPTIMIZERS`` is the registry the CLI, study files and Optuna choices use. Each entry
builds an optimizer from parameters, a learning rate and keyword options that follow
``torch.optim``'s own names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from lrtune._registry import Registry

OptimizerFactory = Callable[..., torch.optim.Optimizer]

OPTIMIZERS: Registry[OptimizerFactory] = Registry("optimizer")


def _family(name: str, cls: OptimizerFactory, **defaults: Any) -> None:
    def build(params: Iterable[Any], lr: float, **options: Any) -> torch.optim.Optimizer:
        return cls(params, lr=lr, **{**defaults, **options})

    build.__name__ = f"build_{name}"
    build.__doc__ = f"Build {getattr(cls, '__name__', name)} with defaults {defaults}."
    OPTIMIZERS.add(name, build)


_family("sgd", torch.optim.SGD, momentum=0.9)
_family("adam", torch.optim.Adam)
_family("adamw", torch.optim.AdamW, weight_decay=0.01)
_family("nadam", torch.optim.NAdam)
_family("rmsprop", torch.optim.RMSprop)
_family("radam", torch.optim.RAdam)


def build_optimizer(
    name: str, params: Iterable[Any], lr: float, **options: Any
) -> torch.optim.Optimizer:
    """Build the optimizer registered as ``name`` (for example ``"adamw"``)."""
    return OPTIMIZERS.get(name)(params, lr, **options)
